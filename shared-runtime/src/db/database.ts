import { Client } from 'pg';
import { Sequelize, type ModelCtor } from 'sequelize-typescript';

import type { DatabaseConfig } from '../config';
import { probe, type HealthCheck } from '../health';
import type { Logger } from '../logger';
import { redactUrl } from '../redact-url';
import { migrateToLatest, type MigrationSource } from './migrator';

/** PostgreSQL error codes this module tells apart. */
const DUPLICATE_DATABASE = '42P04';
const INSUFFICIENT_PRIVILEGE = '42501';

export interface SequelizeOptions {
  url: string;
  poolMax: number;
  /** The service's sequelize-typescript models, registered with the instance. */
  models: ModelCtor[];
  logger: Logger;
}

/** A Sequelize instance over the service's database and models; its SQL goes to the trace-level log. */
export function createSequelize(options: SequelizeOptions): Sequelize {
  return new Sequelize(options.url, {
    dialect: 'postgres',
    models: options.models,
    logging: (sql) => {
      options.logger.trace({ sql }, 'sql');
    },
    pool: { max: options.poolMax, min: 0, acquire: 10_000, idle: 10_000 },
    // UTC in and out, whatever the server's time zone.
    timezone: '+00:00',
  });
}

/**
 * Creates the service's database when it does not exist, as the contract asks. A server that
 * refuses (no CREATEDB privilege) is not fatal here: the connection that follows then fails
 * with a clear error if the database is really missing.
 */
export async function ensureDatabaseExists(url: string, logger: Logger): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';

  const client = new Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    logger.info({ database: name }, 'created database');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === DUPLICATE_DATABASE) return;
    if (code === INSUFFICIENT_PRIVILEGE) {
      logger.warn({ database: name }, 'database missing and not allowed to create it');
      return;
    }
    throw error;
  } finally {
    await client.end();
  }
}

/** `GET /health`'s database probe: one round trip, 2 s at most. */
export function databaseHealthCheck(sequelize: Sequelize): HealthCheck {
  return {
    name: 'database',
    critical: true,
    check: () =>
      probe(async () => {
        await sequelize.query('SELECT 1');
      }, 2000),
  };
}

/**
 * What a service does with its database at start: creates it when missing, connects, and applies
 * pending migrations when `db.migrateOnStart` (as one replica at a time: see migrateToLatest).
 * An unreachable server fails with the URL (password masked) in the message.
 */
export async function openDatabase(options: {
  db: DatabaseConfig;
  models: ModelCtor[];
  migrations: MigrationSource;
  logger: Logger;
}): Promise<Sequelize> {
  const { db, logger } = options;
  await ensureDatabaseExists(db.url, logger).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot reach PostgreSQL at ${redactUrl(db.url)}: ${reason}`, { cause: error });
  });
  const sequelize = createSequelize({ url: db.url, poolMax: db.poolMax, models: options.models, logger });
  await sequelize.authenticate();
  if (db.migrateOnStart) {
    const applied = await migrateToLatest(sequelize, options.migrations, logger);
    logger.info({ applied }, applied.length ? 'applied migrations' : 'database schema is up to date');
  }
  return sequelize;
}
