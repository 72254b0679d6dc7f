import { Client } from 'pg';
import { Sequelize } from 'sequelize-typescript';

import { probe, type HealthCheck } from '../health';
import type { Logger } from '../logger';
import { RevokedTokenModel } from '../models/revoked-token.model';
import { UserModel } from '../models/user.model';

/** PostgreSQL error codes this module tells apart. */
const DUPLICATE_DATABASE = '42P04';
const INSUFFICIENT_PRIVILEGE = '42501';

export function createSequelize(options: { url: string; poolMax: number; logger: Logger }): Sequelize {
  return new Sequelize(options.url, {
    dialect: 'postgres',
    models: [UserModel, RevokedTokenModel],
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
    check: () =>
      probe(async () => {
        await sequelize.query('SELECT 1');
      }, 2000),
  };
}
