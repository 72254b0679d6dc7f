import { connect as connectAmqp } from 'amqplib';
import { Client } from 'pg';

import { localRabbitmqctl, type RabbitmqctlRunner } from './broker-control';

/** Where the PostgreSQL server and RabbitMQ broker used by a test process come from. */
export type InfrastructureSource = 'environment' | 'localhost' | 'testcontainers';

export interface Infrastructure {
  /** A PostgreSQL URL on a server where the harness may create and drop databases. */
  postgresUrl: string;
  amqpUrl: string;
  source: InfrastructureSource;
  /** Runs `rabbitmqctl` against this broker (locally, or inside its container). */
  rabbitmqctl: RabbitmqctlRunner;
  /** Stops whatever the harness started (containers); a no-op for servers it found running. */
  stop(): Promise<void>;
}

export const LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const LOCAL_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** How long a probe of a localhost default may take before we call it absent, in ms. */
const PROBE_TIMEOUT_MS = 2000;

/**
 * Finds PostgreSQL and RabbitMQ for tests, in this order:
 * `TEST_DATABASE_URL` / `TEST_AMQP_URL`; else the localhost defaults when they answer;
 * else containers started with testcontainers (needs Docker). Each is resolved on its own,
 * so a machine with a local PostgreSQL but no broker gets a broker container only.
 */
export async function resolveInfrastructure(env: NodeJS.ProcessEnv = process.env): Promise<Infrastructure> {
  const stops: (() => Promise<void>)[] = [];
  const sources: InfrastructureSource[] = [];

  let postgresUrl = env.TEST_DATABASE_URL;
  if (postgresUrl) {
    sources.push('environment');
  } else if (await postgresAnswers(LOCAL_POSTGRES_URL)) {
    postgresUrl = LOCAL_POSTGRES_URL;
    sources.push('localhost');
  } else {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:16-alpine').start();
    postgresUrl = container.getConnectionUri();
    stops.push(async () => {
      await container.stop();
    });
    sources.push('testcontainers');
  }

  let amqpUrl = env.TEST_AMQP_URL;
  let rabbitmqctl = localRabbitmqctl;
  if (amqpUrl) {
    sources.push('environment');
  } else if (await brokerAnswers(LOCAL_AMQP_URL)) {
    amqpUrl = LOCAL_AMQP_URL;
    sources.push('localhost');
  } else {
    const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
    const container = await new RabbitMQContainer('rabbitmq:3.13-management-alpine').start();
    amqpUrl = container.getAmqpUrl();
    rabbitmqctl = async (args) => {
      const result = await container.exec(['rabbitmqctl', ...args]);
      if (result.exitCode !== 0) throw new Error(`rabbitmqctl ${args.join(' ')} failed: ${result.output}`);
      return result.stdout;
    };
    stops.push(async () => {
      await container.stop();
    });
    sources.push('testcontainers');
  }

  return {
    postgresUrl,
    amqpUrl,
    rabbitmqctl,
    source: sources.includes('testcontainers') ? 'testcontainers' : (sources[0] ?? 'environment'),
    async stop() {
      await Promise.all(stops.map((stop) => stop()));
    },
  };
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function brokerAnswers(url: string): Promise<boolean> {
  try {
    const connection = await connectAmqp(url, { timeout: PROBE_TIMEOUT_MS });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}
