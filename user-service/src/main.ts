/**
 * Composition root: config → database → migrations → broker → repositories → services →
 * HTTP app → listen → graceful shutdown. The only module with side effects at start.
 */
import 'reflect-metadata';

import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { hostname } from 'node:os';

import { createApp } from './app';
import { ConfigError, loadConfig } from './config';
import { createSequelize, databaseHealthCheck, ensureDatabaseExists } from './db/database';
import { migrateToLatest } from './db/migrator';
import { createLogger, type Logger } from './logger';
import { AuthEventsSubscriber } from './messaging/auth-events.subscriber';
import { connectToBroker, connectionName, redactUrl, setupAll } from './messaging/broker-connection';
import { UserServiceMetrics } from './metrics';
import { OutboxRelay } from './messaging/outbox-relay';
import { TokenValidationResponder } from './messaging/token-validation.responder';
import { OutboxRepository } from './repositories/outbox.repository';
import { RevokedTokenRepository } from './repositories/revoked-token.repository';
import { transactionRunner } from './repositories/transaction';
import { UserRepository } from './repositories/user.repository';
import { AuthService } from './services/auth.service';
import { PasswordHasher } from './services/password-hasher';
import { TokenSubjectCache } from './services/token-subject-cache';
import { TokenService } from './services/token.service';
import { SERVICE_NAME, SERVICE_VERSION } from './service-info';

/** How often revocations of tokens that have expired anyway are deleted, in ms. */
const REVOCATION_PURGE_INTERVAL_MS = 10 * 60 * 1000;

/** How often published outbox events past their retention are deleted, in ms. */
const OUTBOX_PURGE_INTERVAL_MS = 10 * 60 * 1000;

/** How long a published event stays in the outbox (to look into what went out), in ms. */
const OUTBOX_RETENTION_MS = 24 * 60 * 60 * 1000;

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

  const metrics = new UserServiceMetrics({ sequelize });
  const withTransaction = transactionRunner(sequelize);
  const outbox = new OutboxRepository({ sequelize });
  metrics.trackOutboxBacklog(() => outbox.backlog());
  const relay = new OutboxRelay({
    exchange: config.amqp.authEventsExchange,
    outbox,
    withTransaction,
    logger,
    observer: metrics.outboxObserver,
  });

  const revokedTokens = new RevokedTokenRepository();
  const users = new UserRepository();
  const subjectCache = new TokenSubjectCache({
    users,
    ttlMs: config.subjectCache.ttlMs,
    maxEntries: config.subjectCache.maxEntries,
    observer: metrics.subjectCacheObserver,
  });
  metrics.trackSubjectCacheEntries(() => subjectCache.size);
  const authService = new AuthService({
    users,
    revokedTokens,
    outbox,
    withTransaction,
    events: relay,
    passwords: new PasswordHasher({ rounds: config.auth.bcryptRounds }),
    tokens: new TokenService({
      secretKey: config.auth.secretKey,
      algorithm: config.auth.algorithm,
      ttlSeconds: config.auth.accessTokenTtlSeconds,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
    }),
    subjects: subjectCache,
  });
  // Every instance evicts on every instance's revocations, from a queue of its own.
  const authEvents = new AuthEventsSubscriber({
    exchange: config.amqp.authEventsExchange,
    queue: `${SERVICE_NAME}.auth-events.${hostname()}.${process.pid}`,
    cache: subjectCache,
    logger,
    observer: metrics.authEventsObserver,
  });

  const responder = new TokenValidationResponder({
    queue: config.amqp.rpcQueue,
    prefetch: config.amqp.prefetch,
    validate: (token) => authService.validateToken(token),
    logger,
    observer: metrics.rpcServerObserver,
  });
  const broker = await connectToBroker({
    url: config.amqp.url,
    connectionName: connectionName(SERVICE_NAME),
    // Every component's setup runs, in this order, after every (re)connect. The subscriber goes
    // first: its flush then precedes the first request the responder takes after a reconnect.
    setup: setupAll([authEvents.setup, responder.setup, relay.setup]),
    logger,
    onReconnect: () => {
      metrics.brokerReconnects.inc();
    },
  });

  relay.start();

  // Revocations outlive their tokens only until the next sweep.
  const purge = setInterval(() => {
    revokedTokens.purgeExpired().then(
      (purged) => {
        if (purged > 0) logger.info({ purged }, 'forgot revocations of expired tokens');
      },
      (error: unknown) => {
        logger.warn({ err: error }, 'could not purge expired revocations');
      },
    );
  }, REVOCATION_PURGE_INTERVAL_MS);
  purge.unref();

  const outboxPurge = setInterval(() => {
    outbox.purgePublished(new Date(Date.now() - OUTBOX_RETENTION_MS)).then(
      (purged) => {
        if (purged > 0) logger.info({ purged }, 'purged published outbox events');
      },
      (error: unknown) => {
        logger.warn({ err: error }, 'could not purge published outbox events');
      },
    );
  }, OUTBOX_PURGE_INTERVAL_MS);
  outboxPurge.unref();

  let acceptingTraffic = true;
  const app = createApp({
    config,
    logger,
    authService,
    healthChecks: [databaseHealthCheck(sequelize), responder.healthCheck(), authEvents.healthCheck()],
    isAcceptingTraffic: () => acceptingTraffic,
    metrics,
  });
  const server = app.listen(config.http.port, () => {
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

  const shutdown = async (signal: string): Promise<void> => {
    if (!acceptingTraffic) return;
    acceptingTraffic = false;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown deadline passed; forcing exit');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();

    // HTTP and RPC drain side by side; both still need the database, which closes last.
    // Requests the responder had not taken stay in the queue for another instance.
    await Promise.all([closeServer(server), responder.stop()]);
    await authEvents.close();
    // After HTTP, so the events of the last requests still go out; before the broker closes.
    await relay.stop();
    await broker.close().catch(() => undefined);
    clearInterval(purge);
    clearInterval(outboxPurge);
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
