import type { Transaction } from 'sequelize';
import type { Sequelize } from 'sequelize-typescript';

import { translateDatabaseErrors } from './database-errors';
import { acquireConnection, runStatement, type PlainTransaction, type SqlTransaction } from './plain-sql';

export type { Transaction };

/**
 * Where a repository call runs: inside the caller's transaction when given, else on its own
 * (autocommit). Transactions are passed explicitly, never picked up from async context, so a
 * call that forgets it is visible in the code.
 */
export interface TransactionOptions {
  transaction?: Transaction;
}

/**
 * Runs `work` in one database transaction, handed to it to pass on to each repository call:
 * committed when `work` resolves, rolled back when it throws (and the error rethrown). A
 * failure to begin or commit (the database gone) is translated like any repository error.
 */
export type TransactionRunner = <T>(work: (transaction: Transaction) => Promise<T>) => Promise<T>;

/**
 * The transaction runner over `sequelize`. It lives in `repositories/` because it is where
 * database errors are translated: services use it without ever seeing Sequelize.
 */
export function transactionRunner(sequelize: Sequelize): TransactionRunner {
  return (work) => translateDatabaseErrors(() => sequelize.transaction(work));
}

/** A runner of either kind, for work that only runs plainQuery statements (which join both). */
export type SqlTransactionRunner = <T>(work: (transaction: SqlTransaction) => Promise<T>) => Promise<T>;

/** Like {@link TransactionRunner}, with a plain transaction that only plainQuery statements join. */
export type PlainTransactionRunner = <T>(work: (transaction: PlainTransaction) => Promise<T>) => Promise<T>;

/**
 * Runs `work` between plain `BEGIN` and `COMMIT` (`ROLLBACK` when it throws) on one connection
 * of Sequelize's pool: for work made only of plainQuery statements, such as the outbox relay's
 * batches, which paid more CPU for Sequelize's transaction around them than for their own
 * statements (docs/benchmarks.md). A connection whose ROLLBACK fails is not reused, since its
 * state is then unknown. Errors are translated as every repository's.
 */
export function plainTransactionRunner(sequelize: Sequelize): PlainTransactionRunner {
  return (work) =>
    translateDatabaseErrors(async () => {
      const connection = await acquireConnection(sequelize);
      const transaction: PlainTransaction = { connection };
      try {
        await runStatement(sequelize, connection, 'BEGIN');
        let result;
        try {
          result = await work(transaction);
        } catch (error) {
          transaction.finished = 'rollback';
          await runStatement(sequelize, connection, 'ROLLBACK').catch(() => {
            connection._invalid = true;
          });
          throw error;
        }
        transaction.finished = 'commit';
        await runStatement(sequelize, connection, 'COMMIT');
        return result;
      } finally {
        transaction.finished ??= 'rollback';
        sequelize.connectionManager.releaseConnection(connection);
      }
    });
}
