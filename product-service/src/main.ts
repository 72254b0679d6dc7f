/**
 * Entry point: config → database (created, migrated) → the wiring of composition.ts (broker,
 * repositories, services, HTTP app) → listen → graceful shutdown. The only module with side
 * effects at start.
 */
import 'reflect-metadata';

import { existsSync } from 'node:fs';

import { installCrashHandlers, onShutdownSignal, runMain } from '@shop/shared-runtime';
import { openDatabase } from '@shop/shared-runtime/db';
import { closeServer, listen } from '@shop/shared-runtime/http';

import { composeProductService } from './composition';
import { loadConfig } from './config';
import { MIGRATIONS, MODELS } from './db/schema';
import { createServiceLogger } from './logger';
import { SERVICE_NAME } from './service-info';

runMain(SERVICE_NAME, async () => {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const logger = createServiceLogger({ level: config.log.level });
  installCrashHandlers(logger);

  const sequelize = await openDatabase({ db: config.db, models: MODELS, migrations: MIGRATIONS, logger });
  const runtime = await composeProductService(config, logger, sequelize);
  const server = listen(runtime.app, { port: config.http.port, service: SERVICE_NAME, logger });

  onShutdownSignal(logger, async () => {
    runtime.stopAcceptingTraffic();
    // In-flight writes finish first (each waits at most one RPC timeout), then the broker goes
    // (after the relay's last pass, so their events go out), then the database.
    await closeServer(server);
    await runtime.close();
    await sequelize.close();
  });
});
