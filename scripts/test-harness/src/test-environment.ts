import { connect as connectAmqp } from 'amqplib';
import { Client } from 'pg';

import { closeBrokerConnections } from './broker-control';
import { BrokerIdentities, TEST_IDENTITY_PREFIX } from './broker-identities';
import { resolveInfrastructure, type Infrastructure } from './infrastructure';
import { TEST_DATABASE_PREFIX, createRunId, runIdCreatedAt, testDatabaseName, testQueueName } from './unique-names';

/** Leftover test databases and queues older than this (crashed runs) are removed, in ms. */
const STALE_DATABASE_AGE_MS = 6 * 60 * 60 * 1000;

/**
 * What one test process owns: its databases and its queue names. Everything it created is
 * removed by {@link TestEnvironment.close}, which belongs in `test.after.always`.
 */
export class TestEnvironment {
  readonly runId: string;
  private readonly databases = new Set<string>();
  private readonly queues = new Set<string>();
  private readonly exchanges = new Set<string>();
  private readonly identities: BrokerIdentities[] = [];

  private constructor(private readonly infrastructure: Infrastructure) {
    this.runId = createRunId();
  }

  /** Finds (or starts) PostgreSQL and RabbitMQ and sweeps stale databases of crashed runs. */
  static async start(env: NodeJS.ProcessEnv = process.env): Promise<TestEnvironment> {
    const infrastructure = await resolveInfrastructure(env);
    const environment = new TestEnvironment(infrastructure);
    await environment.dropStaleDatabases();
    return environment;
  }

  get amqpUrl(): string {
    return this.infrastructure.amqpUrl;
  }

  /**
   * Closes, from the broker's side, the connections named `connectionName` (tests name their
   * services' connections uniquely, so this never touches a neighbour's).
   */
  closeBrokerConnections(connectionName: string): Promise<number> {
    return closeBrokerConnections(this.infrastructure.rabbitmqctl, connectionName);
  }

  /** Runs `rabbitmqctl` against the test broker (locally, or inside its container). */
  rabbitmqctl(args: string[]): Promise<string> {
    return this.infrastructure.rabbitmqctl(args);
  }

  get source(): Infrastructure['source'] {
    return this.infrastructure.source;
  }

  /**
   * Creates an empty database owned by this run and returns its URL. The caller runs its
   * service's migrations on it; the database is dropped on {@link close}.
   */
  async createDatabase(label: string): Promise<{ name: string; url: string }> {
    const name = testDatabaseName(label, this.runId);
    await this.withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`));
    this.databases.add(name);
    return { name, url: this.databaseUrl(name) };
  }

  /** URL of a database on the test server that need not exist yet (e.g. to test creation). */
  databaseUrl(name: string): string {
    const url = new URL(this.infrastructure.postgresUrl);
    url.pathname = `/${name}`;
    return url.toString();
  }

  /** Reserves a database name for code under test to create; it is dropped on close too. */
  reserveDatabaseName(label: string): string {
    const name = `${testDatabaseName(label, this.runId)}_${this.databases.size}`;
    this.databases.add(name);
    return name;
  }

  /** A queue name private to this run; the queue, if anything declares it, is deleted on close. */
  queueName(base: string): string {
    const name = testQueueName(base, this.runId);
    this.queues.add(name);
    return name;
  }

  /** An exchange name private to this run; the exchange, if anything declares it, is deleted on close. */
  exchangeName(base: string): string {
    const name = testQueueName(base, this.runId);
    this.exchanges.add(name);
    return name;
  }

  /**
   * The repository's broker identities (deploy/rabbitmq/definitions.json) in a vhost of this
   * run's own, with users of this run's own; both are deleted on {@link close}. Call it once per
   * test process: the vhost is named after the run.
   */
  async brokerIdentities(): Promise<BrokerIdentities> {
    const identities = await BrokerIdentities.create(this.infrastructure.rabbitmqctl, this.amqpUrl, this.runId);
    this.identities.push(identities);
    return identities;
  }

  /**
   * Runs one statement as the test server's admin, e.g. to cut a service off its database
   * (`ALTER DATABASE … ALLOW_CONNECTIONS false`, `pg_terminate_backend`) in a fault test.
   */
  async adminQuery<R extends object = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    const { rows } = await this.withAdminClient((client) => client.query<R>(sql, params));
    return rows;
  }

  /** Drops every database and deletes every queue this run made, then stops any containers. */
  async close(): Promise<void> {
    try {
      await this.dropDatabases([...this.databases]);
      await this.deleteQueues([...this.queues]);
      await this.deleteExchanges([...this.exchanges]);
      for (const identities of this.identities.splice(0)) await identities.delete();
    } finally {
      this.databases.clear();
      this.queues.clear();
      this.exchanges.clear();
      await this.infrastructure.stop();
    }
  }

  private async dropDatabases(names: string[]): Promise<void> {
    if (names.length === 0) return;
    await this.withAdminClient(async (client) => {
      for (const name of names) {
        // FORCE: a service under test may still hold pooled connections.
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }
    });
  }

  private async deleteQueues(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const connection = await connectAmqp(this.infrastructure.amqpUrl);
    try {
      const channel = await connection.createChannel();
      for (const name of names) await channel.deleteQueue(name);
      await channel.close();
    } finally {
      await connection.close();
    }
  }

  private async deleteExchanges(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const connection = await connectAmqp(this.infrastructure.amqpUrl);
    try {
      const channel = await connection.createChannel();
      for (const name of names) await channel.deleteExchange(name);
      await channel.close();
    } finally {
      await connection.close();
    }
  }

  /**
   * Deletes queues and exchanges that test runs crashed before deleting (`<name>.test.<runId>`,
   * older than the stale age). Needs `rabbitmqctl`, so it runs once per `npm test` (from the harness's own
   * tests), not in every test process.
   *
   * @returns the names of the queues and exchanges deleted
   */
  async deleteStaleQueues(): Promise<string[]> {
    const listing = await this.infrastructure.rabbitmqctl(['list_queues', 'name', '-q', '--no-table-headers']);
    const cutoff = Date.now() - STALE_DATABASE_AGE_MS;
    const isStale = (name: string): boolean => {
      const runId = /\.test\.([0-9a-z]+_[0-9a-z]+_[0-9a-f]+)$/.exec(name)?.[1];
      const createdAt = runId ? runIdCreatedAt(runId) : undefined;
      return createdAt !== undefined && createdAt.getTime() < cutoff;
    };
    const stale = listing
      .split('\n')
      .map((line) => line.trim())
      .filter((name) => isStale(name));
    await this.deleteQueues(stale);
    const exchanges = (await this.infrastructure.rabbitmqctl(['list_exchanges', 'name', '-q', '--no-table-headers']))
      .split('\n')
      .map((line) => line.trim())
      .filter((name) => isStale(name));
    await this.deleteExchanges(exchanges);
    return [...stale, ...exchanges, ...(await this.deleteStaleIdentities(cutoff))];
  }

  /** Deletes the vhosts and users of {@link brokerIdentities} that crashed runs left behind. */
  private async deleteStaleIdentities(cutoff: number): Promise<string[]> {
    const isStale = (name: string): boolean => {
      if (!name.startsWith(TEST_IDENTITY_PREFIX)) return false;
      const createdAt = runIdCreatedAt(name.split('.').at(-1) ?? '');
      return createdAt !== undefined && createdAt.getTime() < cutoff;
    };
    const namesIn = async (args: string[]) =>
      (await this.infrastructure.rabbitmqctl(args))
        .split('\n')
        .map((line) => line.split('\t')[0]?.trim() ?? '')
        .filter(isStale);
    const vhosts = await namesIn(['list_vhosts', 'name', '-q', '--no-table-headers']);
    for (const vhost of vhosts) await this.infrastructure.rabbitmqctl(['delete_vhost', vhost]);
    const users = await namesIn(['list_users', '-q', '--no-table-headers']);
    for (const user of users) await this.infrastructure.rabbitmqctl(['delete_user', user]);
    return [...vhosts, ...users];
  }

  private async dropStaleDatabases(): Promise<void> {
    const { rows } = await this.withAdminClient((client) =>
      client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [
        TEST_DATABASE_PREFIX,
      ]),
    );
    const cutoff = Date.now() - STALE_DATABASE_AGE_MS;
    const stale = rows
      .map((row) => row.datname)
      .filter((name) => {
        const runId = name.slice(TEST_DATABASE_PREFIX.length).split('_').slice(1).join('_');
        const createdAt = runIdCreatedAt(runId);
        return createdAt !== undefined && createdAt.getTime() < cutoff;
      });
    await this.dropDatabases(stale);
  }

  private async withAdminClient<T>(use: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client({ connectionString: this.infrastructure.postgresUrl });
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.end();
    }
  }
}
