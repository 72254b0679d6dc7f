// `@shop/shared-runtime/db`: Sequelize setup, plain SQL, transactions, the outbox and the migrator. Its whole public surface.
export { BaseRepository, type Page } from './base.repository';
export {
  createSequelize,
  databaseHealthCheck,
  ensureDatabaseExists,
  openDatabase,
  type SequelizeOptions,
} from './database';
export { translateDatabaseErrors } from './database-errors';
export { runMigrationCli } from './migrate-cli';
export { MIGRATIONS_TABLE, createMigrator, migrateToLatest, type MigrationSource } from './migrator';
export {
  OutboxRepository,
  isoTimestampSql,
  type ClaimedEvent,
  type NewEvent,
  type OutboxBacklog,
  type OutboxTransactionOptions,
} from './outbox.repository';
export { plainQuery, type PlainResult, type PlainTransaction, type SqlTransaction } from './plain-sql';
export {
  plainTransactionRunner,
  transactionRunner,
  type PlainTransactionRunner,
  type SqlTransactionRunner,
  type Transaction,
  type TransactionOptions,
  type TransactionRunner,
} from './transaction';
