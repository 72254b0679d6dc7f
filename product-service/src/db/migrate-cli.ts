/**
 * The alembic equivalent: `npm run migrate --workspace product-service -- <command>`, where
 * command is up | down | pending | executed | create --name <name>. Uses DATABASE_URL.
 */
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { SERVICE_NAME, SERVICE_VERSION } from '../service-info';
import { createSequelize, ensureDatabaseExists } from './database';
import { createMigrator } from './migrator';

/**
 * `create` names files as we do (`--name 0002-add-x.ts`, no timestamp prefix) and skips
 * umzug's check that the new file is pending: it is TypeScript in src/, and only the
 * compiled migrations in dist/ are read until the next build.
 */
function cliArguments(args: string[]): string[] {
  if (args[0] !== 'create') return args;
  const extra = [];
  if (!args.includes('--prefix')) extra.push('--prefix', 'NONE');
  if (!args.includes('--skip-verify')) extra.push('--skip-verify');
  return [...args, ...extra];
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, service: SERVICE_NAME, version: SERVICE_VERSION });
  await ensureDatabaseExists(config.db.url, logger);
  const sequelize = createSequelize({ url: config.db.url, poolMax: 2, logger });
  try {
    await createMigrator(sequelize, logger).runAsCLI(cliArguments(process.argv.slice(2)));
  } finally {
    await sequelize.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
