/**
 * The alembic equivalent: `npm run migrate --workspace product-service -- <command>`, where
 * command is up | down | pending | executed | create --name <name>. Uses DATABASE_URL.
 */
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { SERVICE_NAME, SERVICE_VERSION } from '../service-info';
import { createSequelize, ensureDatabaseExists } from './database';
import { createMigrator } from './migrator';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, service: SERVICE_NAME, version: SERVICE_VERSION });
  await ensureDatabaseExists(config.db.url, logger);
  const sequelize = createSequelize({ url: config.db.url, poolMax: 2, logger });
  try {
    await createMigrator(sequelize, logger).runAsCLI();
  } finally {
    await sequelize.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
