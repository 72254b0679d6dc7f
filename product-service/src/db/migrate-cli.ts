/**
 * The alembic equivalent: `npm run migrate --workspace product-service -- <command>`, where
 * command is up | down | pending | executed | create --name <name>. Uses DATABASE_URL.
 */
import { runMain } from '@shop/shared-runtime';
import { runMigrationCli } from '@shop/shared-runtime/db';

import { loadConfig } from '../config';
import { createServiceLogger } from '../logger';
import { SERVICE_NAME } from '../service-info';
import { MIGRATIONS, MODELS } from './schema';

runMain(SERVICE_NAME, async () => {
  const config = loadConfig();
  await runMigrationCli({
    db: config.db,
    models: MODELS,
    migrations: MIGRATIONS,
    logger: createServiceLogger({ level: config.log.level }),
    args: process.argv.slice(2),
  });
});
