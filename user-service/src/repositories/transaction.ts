import type { Transaction } from 'sequelize';
import type { Sequelize } from 'sequelize-typescript';

import { translateDatabaseErrors } from './database-errors';

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
