import type { Express } from 'express';
import type { Sequelize } from 'sequelize-typescript';

import { runEvery, type Logger } from '@shop/shared-runtime';
import { databaseHealthCheck, transactionRunner } from '@shop/shared-runtime/db';
import { startLoadShedder } from '@shop/shared-runtime/http';
import {
  createServiceMessaging,
  withFlowControl,
  type MessagingOptions,
  type MessagingRuntime,
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

export interface CompositionOptions extends MessagingOptions {
  /** Process metrics (CPU, memory, event loop) on /metrics. Default true; tests building several instances pass false. */
  collectProcessMetrics?: boolean;
  /** The user repository; tests pass one that counts its reads. */
  users?: UserRepository;
}

/** user-service wired and connecting: everything but the database (the caller's) and the listening socket. */
export interface UserServiceRuntime extends MessagingRuntime {
  app: Express;
  metrics: UserServiceMetrics;
  authService: AuthService;
  tokens: TokenService;
  /** The token-subject cache behind every validation, evicted by {@link authEvents} (every instance's revocations). */
  subjectCache: TokenSubjectCache;
  responder: TokenValidationResponder;
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
 * metrics → repositories → token-subject cache → messaging (outbox, relay, auth events
 * subscriber) → AuthService → RPC responder → broker connection → HTTP app. Opens the broker
 * connection (which comes up in the background) and starts the relay and the purges; listens on
 * nothing.
 */
export async function composeUserService(
  config: Readonly<Config>,
  logger: Logger,
  sequelize: Sequelize,
  options: CompositionOptions = {},
): Promise<UserServiceRuntime> {
  const metrics = new UserServiceMetrics({
    sequelize,
    collectProcessMetrics: options.collectProcessMetrics,
  });
  const revokedTokens = new RevokedTokenRepository();
  const users = options.users ?? new UserRepository();
  const subjectCache = new TokenSubjectCache({
    users,
    ...config.subjectCache,
    observer: metrics.subjectCache.observer,
  });
  metrics.subjectCache.trackEntries(() => subjectCache.size);
  // user-service consumes its own auth events too: a logout through any instance evicts in all.
  const messaging = createServiceMessaging({
    service: SERVICE_NAME,
    sequelize,
    eventsExchange: config.amqp.authEventsExchange,
    authEventsExchange: config.amqp.authEventsExchange,
    identities: config.amqp.identities,
    cache: subjectCache,
    logger,
    metrics,
    options,
  });
  const tokens = new TokenService({
    secretKey: config.auth.secretKey,
    previousSecretKeys: config.auth.previousSecretKeys,
    algorithm: config.auth.algorithm,
    ttlSeconds: config.auth.accessTokenTtlSeconds,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
  });
  const authService = new AuthService({
    users,
    revokedTokens,
    outbox: messaging.outbox,
    withTransaction: transactionRunner(sequelize),
    events: messaging.relay,
    passwords: new PasswordHasher({ rounds: config.auth.bcryptRounds }),
    tokens,
    subjects: subjectCache,
  });
  const responder = new TokenValidationResponder({
    queue: config.amqp.rpcQueue,
    queueType: config.amqp.rpcQueueType,
    prefetch: config.amqp.prefetch,
    validate: (token) => authService.validateToken(token),
    userId: config.amqp.identities.own,
    allowedCallers: config.amqp.allowedCallers,
    logger,
    observer: metrics.rpcServerObserver,
  });
  const connected = await messaging.connect(config.amqp.urls, [responder.setup]);

  // Revocations outlive their tokens only until the next sweep.
  const revocationPurge = runEvery(REVOCATION_PURGE_INTERVAL_MS, async () => {
    try {
      const purged = await revokedTokens.purgeExpired();
      if (purged > 0) logger.info({ purged }, 'forgot revocations of expired tokens');
    } catch (error) {
      logger.warn({ err: error }, 'could not purge expired revocations');
    }
  });

  const loadShedder = startLoadShedder(config.loadShedding, logger, metrics);
  let acceptingTraffic = true;
  const app = createApp({
    config,
    logger,
    authService,
    healthChecks: [
      databaseHealthCheck(sequelize),
      withFlowControl(responder.healthCheck(), messaging.flowControl),
      messaging.authEvents.healthCheck(),
    ],
    isAcceptingTraffic: () => acceptingTraffic,
    metrics,
    loadShedder,
  });

  return {
    ...connected,
    app,
    metrics,
    authService,
    tokens,
    subjectCache,
    responder,
    stopAcceptingTraffic() {
      acceptingTraffic = false;
    },
    stopResponding: (timeoutMs) => responder.stop(timeoutMs),
    async close() {
      loadShedder.stop();
      clearInterval(revocationPurge);
      await responder.stop();
      await messaging.close();
    },
  };
}
