import type { Sequelize } from 'sequelize';

import type { Transaction } from './transaction';

/** The part of a pooled pg `Client` this module uses. */
export interface PgConnection {
  query(config: { text: string; values: readonly unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
  /** Sequelize's flag for a connection its pool must not hand out again. */
  _invalid?: boolean;
}

/**
 * A transaction begun and ended with plain `BEGIN` and `COMMIT` on one connection of
 * Sequelize's pool (see plainTransactionRunner in transaction.ts): for work that only runs
 * plainQuery statements, without Sequelize's transaction machinery around each one.
 */
export interface PlainTransaction {
  readonly connection: PgConnection;
  /** Set once the transaction has ended, as Sequelize's own. */
  finished?: 'commit' | 'rollback';
}

/** A transaction plainQuery can run a statement in: Sequelize's, or a plain one. */
export type SqlTransaction = Transaction | PlainTransaction;

/** What a statement gave back: its rows, and how many rows it touched. */
export interface PlainResult<R> {
  rows: R[];
  rowCount: number;
}

/** pg's errors when the socket under a query goes away, which carry no SQLSTATE. */
export const CONNECTION_LOST = /Connection terminated|is not queryable|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT/;

/**
 * Runs one parameterised statement (`$1`, `$2`, …) straight on a connection of Sequelize's own
 * pool — or on the transaction's connection when given — instead of through `sequelize.query`.
 * For the hot paths' hand-written SQL: `sequelize.query` spent more CPU per statement than the
 * driver (an option spread, bind-parameter rewriting, a uuid, a captured stack, hooks), about a
 * tenth of product-service's CPU per write (docs/benchmarks.md). Rows come back as pg parses
 * them on Sequelize's connections (the same type parsers). Errors are pg's own; callers pass
 * them through translateDatabaseErrors like any other.
 */
export async function plainQuery<R>(
  sequelize: Sequelize,
  text: string,
  values: readonly unknown[] = [],
  transaction?: SqlTransaction,
): Promise<PlainResult<R>> {
  logStatement(sequelize, text);
  if (transaction) return runOn<R>(connectionOf(transaction), text, values);
  const connection = await acquireConnection(sequelize);
  try {
    return await runOn<R>(connection, text, values);
  } finally {
    sequelize.connectionManager.releaseConnection(connection);
  }
}

/** A connection of Sequelize's pool, for plainTransactionRunner; give it back with releaseConnection. */
export async function acquireConnection(sequelize: Sequelize): Promise<PgConnection> {
  return (await sequelize.connectionManager.getConnection({ type: 'write' })) as PgConnection;
}

/** Runs one statement on `connection`, logged as plainQuery logs. */
export async function runStatement(sequelize: Sequelize, connection: PgConnection, text: string): Promise<void> {
  logStatement(sequelize, text);
  await runOn(connection, text, []);
}

/** Into the same SQL log as Sequelize's own statements (LOG_LEVEL=trace). */
function logStatement(sequelize: Sequelize, text: string): void {
  // Sequelize's types leave its options out.
  const { logging } = (sequelize as unknown as { options: { logging?: unknown } }).options;
  if (typeof logging === 'function') (logging as (sql: string) => void)(`Executing (plain): ${text}`);
}

async function runOn<R>(connection: PgConnection, text: string, values: readonly unknown[]): Promise<PlainResult<R>> {
  try {
    const result = await connection.query({ text, values });
    // The caller's SQL decides the rows' shape; pg cannot check it.
    return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
  } catch (error) {
    // As sequelize.query does: a connection whose socket died is not handed out again.
    if (error instanceof Error && CONNECTION_LOST.test(error.message)) connection._invalid = true;
    throw error;
  }
}

/**
 * The pg connection a transaction holds (Sequelize's types leave it out of theirs). A finished
 * transaction's connection is back in the pool, maybe lent to someone else: using it is a bug.
 */
function connectionOf(transaction: SqlTransaction): PgConnection {
  const { connection, finished } = transaction as { connection?: PgConnection; finished?: string };
  if (finished) throw new Error(`the transaction has already ended (${finished}); no statement can join it`);
  if (!connection) throw new Error('the transaction has no connection (it has not started)');
  return connection;
}
