/**
 * Entry point: config → database → migrations → the wiring of composition.ts (repositories,
 * services, broker, HTTP app) → listen → graceful shutdown. The only module with side effects
 * at start.
 */
import 'reflect-metadata';

import { existsSync } from 'node:fs';
import type { Server } from 'node:http';

import { composeUserService } from './composition';
import { ConfigError, loadConfig } from './config';
import { createSequelize, ensureDatabaseExists } from './db/database';
import { migrateToLatest } from './db/migrator';
import { createLogger, type Logger } from './logger';
import { redactUrl } from './messaging/broker-connection';
import { SERVICE_NAME, SERVICE_VERSION } from './service-info';

/** A shutdown that has not finished by then is forced, in ms. */
const SHUTDOWN_DEADLINE_MS = 10_000;

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, service: SERVICE_NAME, version: SERVICE_VERSION });
  installCrashHandlers(logger);
  if (config.auth.secretKeyGenerated) {
    logger.warn('SECRET_KEY is not set: using a random key, so tokens die with this process (set it in production)');
  }

  await ensureDatabaseExists(config.db.url, logger).catch((error: unknown) => {
    throw new Error(`cannot reach PostgreSQL at ${redactUrl(config.db.url)}: ${describe(error)}`, { cause: error });
  });
  const sequelize = createSequelize({ url: config.db.url, poolMax: config.db.poolMax, logger });
  await sequelize.authenticate();
  if (config.db.migrateOnStart) {
    const applied = await migrateToLatest(sequelize, logger);
    logger.info({ applied }, applied.length ? 'applied migrations' : 'database schema is up to date');
  }

  const runtime = await composeUserService(config, logger, sequelize);
  const server = runtime.app.listen(config.http.port, () => {
    const address = server.address();
    logger.info(
      { port: typeof address === 'object' && address ? address.port : config.http.port },
      `${SERVICE_NAME} listening`,
    );
  });
  server.on('error', (error) => {
    logger.fatal({ err: error }, 'HTTP server error');
    process.exit(1);
  });

  let shuttingDown = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    runtime.stopAcceptingTraffic();
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown deadline passed; forcing exit');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();

    // HTTP and RPC drain side by side; both still need the database, which closes last.
    // Requests the responder had not taken stay in the queue for another instance.
    await Promise.all([closeServer(server), runtime.stopResponding()]);
    await runtime.close();
    await sequelize.close();
    logger.info('shut down cleanly');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void shutdown(signal));
  }
}

/** Time between sweeps of keep-alive connections that went idle during shutdown, in ms. */
const IDLE_SWEEP_INTERVAL_MS = 100;

/** Stops accepting connections and resolves once in-flight requests have been answered. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    // server.close() only drops the connections idle at that moment; one whose last response
    // goes out later would otherwise stay open for the whole keep-alive timeout (5 s).
    const sweep = setInterval(() => {
      server.closeIdleConnections();
    }, IDLE_SWEEP_INTERVAL_MS);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function installCrashHandlers(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    process.exit(1);
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

main().catch((error: unknown) => {
  const line = error instanceof ConfigError ? error.message : `${SERVICE_NAME} failed to start: ${describe(error)}`;
  process.stderr.write(`${line}\n`);
  process.exit(1);
});
