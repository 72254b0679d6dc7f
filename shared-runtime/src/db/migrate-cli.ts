import type { ModelCtor } from 'sequelize-typescript';

import type { DatabaseConfig } from '../config';
import type { Logger } from '../logger';
import { createSequelize, ensureDatabaseExists } from './database';
import { createMigrator, type MigrationSource } from './migrator';

/**
 * `create` names files as we do (`--name 0002-add-x.ts`, no timestamp prefix) and skips
 * umzug's check that the new file is pending: it is TypeScript in src/, and only the
 * compiled migrations in dist/ are read until the next build.
 */
function cliArguments(args: readonly string[]): string[] {
  if (args[0] !== 'create') return [...args];
  const extra = [];
  if (!args.includes('--prefix')) extra.push('--prefix', 'NONE');
  if (!args.includes('--skip-verify')) extra.push('--skip-verify');
  return [...args, ...extra];
}

/**
 * The alembic equivalent, behind each service's `npm run migrate -- <command>`: command is
 * up | down | pending | executed | create --name <name>, run against `db.url` (created when
 * missing). A failure prints its message and sets exit code 1.
 */
export async function runMigrationCli(options: {
  db: Pick<DatabaseConfig, 'url'>;
  models: ModelCtor[];
  migrations: MigrationSource;
  logger: Logger;
  args: readonly string[];
}): Promise<void> {
  const { db, logger } = options;
  try {
    await ensureDatabaseExists(db.url, logger);
    const sequelize = createSequelize({ url: db.url, poolMax: 2, models: options.models, logger });
    try {
      await createMigrator(sequelize, options.migrations, logger).runAsCLI(cliArguments(options.args));
    } finally {
      await sequelize.close();
    }
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
