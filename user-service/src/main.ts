/**
 * Entry point: config → database (created, migrated) → the wiring of composition.ts
 * (repositories, services, broker, HTTP app) → listen → graceful shutdown. The only module
 * with side effects at start.
 */
import 'reflect-metadata';

import { existsSync } from 'node:fs';

import { installCrashHandlers, onShutdownSignal, runMain } from '@shop/shared-runtime';
import { openDatabase } from '@shop/shared-runtime/db';
import { closeServer, listen } from '@shop/shared-runtime/http';

import { composeUserService } from './composition';
import { loadConfig } from './config';
import { MIGRATIONS, MODELS } from './db/schema';
import { createServiceLogger } from './logger';
import { SERVICE_NAME } from './service-info';

runMain(SERVICE_NAME, async () => {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const logger = createServiceLogger({ level: config.log.level });
  installCrashHandlers(logger);
  if (config.auth.secretKeyGenerated) {
    logger.warn('SECRET_KEY is not set: using a random key, so tokens die with this process (set it in production)');
  }

  const sequelize = await openDatabase({ db: config.db, models: MODELS, migrations: MIGRATIONS, logger });
  const runtime = await composeUserService(config, logger, sequelize);
  const server = listen(runtime.app, { port: config.http.port, service: SERVICE_NAME, logger });

  onShutdownSignal(logger, async () => {
    runtime.stopAcceptingTraffic();
    // HTTP and RPC drain side by side; both still need the database, which closes last.
    // Requests the responder had not taken stay in the queue for another instance.
    await Promise.all([closeServer(server), runtime.stopResponding()]);
    await runtime.close();
    await sequelize.close();
  });
});
