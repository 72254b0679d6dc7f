/**
 * The service's start once config is read and tracing is on (main.ts): database (created,
 * migrated) → the wiring of composition.ts (repositories, services, broker, HTTP app) → listen →
 * graceful shutdown. The only module with side effects at start besides main.ts.
 */
import 'reflect-metadata';

import { installCrashHandlers, onShutdownSignal } from '@shop/shared-runtime';
import { openDatabase } from '@shop/shared-runtime/db';
import { closeServer, listen } from '@shop/shared-runtime/http';
import type { Tracing } from '@shop/shared-runtime/tracing';

import { composeUserService } from './composition';
import type { Config } from './config';
import { MIGRATIONS, MODELS } from './db/schema';
import { createServiceLogger } from './logger';
import { SERVICE_NAME } from './service-info';

export async function serve(config: Readonly<Config>, tracing: Tracing | undefined): Promise<void> {
  const logger = createServiceLogger({ level: config.log.level });
  installCrashHandlers(logger);
  if (config.auth.secretKeyGenerated) {
    logger.warn('SECRET_KEY is not set: using a random key, so tokens die with this process (set it in production)');
  }
  if (tracing) logger.info({ protocol: config.tracing.protocol }, 'exporting traces over OTLP');

  const sequelize = await openDatabase({ db: config.db, models: MODELS, migrations: MIGRATIONS, logger });
  const runtime = await composeUserService(config, logger, sequelize);
  const server = listen(runtime.app, { port: config.http.port, service: SERVICE_NAME, logger });

  onShutdownSignal(logger, async () => {
    runtime.stopAcceptingTraffic();
    // HTTP and RPC drain side by side; both still need the database, which closes last.
    // Requests the responder had not taken stay in the queue for another instance; the spans
    // of all that are exported last.
    await Promise.all([closeServer(server), runtime.stopResponding()]);
    await runtime.close();
    await sequelize.close();
    await tracing?.shutdown();
  });
}
