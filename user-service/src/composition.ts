import type { RecoveringChannelModel } from 'amqplib';
import type { Express } from 'express';
import type { Sequelize } from 'sequelize-typescript';

import { runEvery, type Logger } from '@shop/shared-runtime';
import { databaseHealthCheck, transactionRunner, type OutboxRepository } from '@shop/shared-runtime/db';
import {
  AuthEventsSubscriber,
  connectToBroker,
  connectionName,
  createEventOutbox,
  instanceQueueName,
  setupAll,
  type OutboxRelay,
} from '@shop/shared-runtime/messaging';

import { createApp } from './app';
import type { Config } from './config';
import { TokenValidationResponder } from './messaging/token-validation.responder';
import { UserServiceMetrics } from './metrics';
import { RevokedTokenRepository } from './repositories/revoked-token.repository';
import { UserRepository } from './repositories/user.repository';
import { AuthService } from './services/auth.service';
import { PasswordHasher } from './services/password-hasher';
import { TokenSubjectCache } from './services/token-subject-cache';
import { TokenService } from './services/token.service';
import { SERVICE_NAME } from './service-info';

/** How often revocations of tokens that have expired anyway are deleted, in ms. */
const REVOCATION_PURGE_INTERVAL_MS = 10 * 60 * 1000;

export interface CompositionOptions {
  /** The broker connection's name in the management UI. Default `user-service@<host>/<pid>`. */
  connectionName?: string;
  /** This instance's auth-events queue. Default `user-service.auth-events.<host>.<pid>`. */
  authEventsQueue?: string;
  /** The user repository; tests pass one that counts its reads. */
  users?: UserRepository;
  /** Process metrics (CPU, memory, event loop) on /metrics. Default true; tests building several instances pass false. */
  collectProcessMetrics?: boolean;
}

/** user-service wired and connecting: everything but the database (the caller's) and the listening socket. */
export interface UserServiceRuntime {
  app: Express;
  metrics: UserServiceMetrics;
  authService: AuthService;
  tokens: TokenService;
  /** The token-subject cache behind every validation. */
  subjectCache: TokenSubjectCache;
  /** Evicts from {@link subjectCache} on auth events (this and the other instances'). */
  authEvents: AuthEventsSubscriber;
  responder: TokenValidationResponder;
  /** Publishes the outbox to the auth events exchange. */
  relay: OutboxRelay;
  outbox: OutboxRepository;
  /** The recovering connection (it may still be connecting). */
  broker: RecoveringChannelModel;
  /** The connection's name, as the management UI shows it. */
  connectionName: string;
  /** /health answers 503 from now on: shutdown has begun. */
  stopAcceptingTraffic(): void;
  /**
   * Stops taking RPC requests and waits (at most `timeoutMs`) for those in hand; the others
   * stay in the queue for another instance. Run it beside the HTTP server's drain.
   */
  stopResponding(timeoutMs?: number): Promise<void>;
  /**
   * Closes everything but the database, once HTTP and RPC have drained: the auth events
   * consumer, the relay (after one last pass, so the events of the last requests go out now),
   * then the broker connection.
   */
  close(): Promise<void>;
}

/**
 * The composition root's wiring, in one place for main.ts and the in-process test harness:
 * metrics → outbox and its relay → repositories → token-subject cache → AuthService → auth
 * events subscriber → RPC responder → broker connection → HTTP app. Opens the broker connection
 * (which comes up in the background) and starts the relay and the purges; listens on nothing.
 */
export async function composeUserService(
  config: Readonly<Config>,
  logger: Logger,
  sequelize: Sequelize,
  options: CompositionOptions = {},
): Promise<UserServiceRuntime> {
  const metrics = new UserServiceMetrics({
    sequelize,
    collectProcessMetrics: options.collectProcessMetrics ?? true,
  });
  const withTransaction = transactionRunner(sequelize);
  const events = createEventOutbox({
    sequelize,
    exchange: config.amqp.authEventsExchange,
    appId: SERVICE_NAME,
    logger,
    metrics,
  });
  const { outbox, relay } = events;

  const revokedTokens = new RevokedTokenRepository();
  const users = options.users ?? new UserRepository();
  const subjectCache = new TokenSubjectCache({
    users,
    ttlMs: config.subjectCache.ttlMs,
    maxEntries: config.subjectCache.maxEntries,
    observer: metrics.subjectCacheObserver,
  });
  metrics.trackSubjectCacheEntries(() => subjectCache.size);
  const tokens = new TokenService({
    secretKey: config.auth.secretKey,
    algorithm: config.auth.algorithm,
    ttlSeconds: config.auth.accessTokenTtlSeconds,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
  });
  const authService = new AuthService({
    users,
    revokedTokens,
    outbox,
    withTransaction,
    events: relay,
    passwords: new PasswordHasher({ rounds: config.auth.bcryptRounds }),
    tokens,
    subjects: subjectCache,
  });
  // Every instance evicts on every instance's revocations, from a queue of its own.
  const authEvents = new AuthEventsSubscriber({
    exchange: config.amqp.authEventsExchange,
    queue: options.authEventsQueue ?? instanceQueueName(SERVICE_NAME, 'auth-events'),
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
  const name = options.connectionName ?? connectionName(SERVICE_NAME);
  const broker = await connectToBroker({
    url: config.amqp.url,
    connectionName: name,
    // Every component's setup runs, in this order, after every (re)connect. The subscriber goes
    // first: its flush then precedes the first request the responder takes after a reconnect.
    setup: setupAll([authEvents.setup, responder.setup, relay.setup]),
    logger,
    onReconnect: () => {
      metrics.brokerReconnects.inc();
    },
  });
  events.start();

  // Revocations outlive their tokens only until the next sweep.
  const revocationPurge = runEvery(REVOCATION_PURGE_INTERVAL_MS, async () => {
    try {
      const purged = await revokedTokens.purgeExpired();
      if (purged > 0) logger.info({ purged }, 'forgot revocations of expired tokens');
    } catch (error) {
      logger.warn({ err: error }, 'could not purge expired revocations');
    }
  });

  let acceptingTraffic = true;
  const app = createApp({
    config,
    logger,
    authService,
    healthChecks: [databaseHealthCheck(sequelize), responder.healthCheck(), authEvents.healthCheck()],
    isAcceptingTraffic: () => acceptingTraffic,
    metrics,
  });

  return {
    app,
    metrics,
    authService,
    tokens,
    subjectCache,
    authEvents,
    responder,
    relay,
    outbox,
    broker,
    connectionName: name,
    stopAcceptingTraffic() {
      acceptingTraffic = false;
    },
    stopResponding: (timeoutMs) => responder.stop(timeoutMs),
    async close() {
      clearInterval(revocationPurge);
      await responder.stop();
      await authEvents.close();
      await events.stop();
      await broker.close().catch(() => undefined);
    },
  };
}
