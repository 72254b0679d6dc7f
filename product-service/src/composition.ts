import type { Express } from 'express';
import type { Sequelize } from 'sequelize-typescript';

import { runEvery, type Logger } from '@shop/shared-runtime';
import { databaseHealthCheck, transactionRunner } from '@shop/shared-runtime/db';
import { startLoadShedder } from '@shop/shared-runtime/http';
import {
  FlowControl,
  createServiceMessaging,
  withFlowControl,
  type MessagingOptions,
  type MessagingRuntime,
} from '@shop/shared-runtime/messaging';

import { createApp } from './app';
import type { Config } from './config';
import { TokenValidationClient } from './messaging/token-validation.client';
import { ProductServiceMetrics } from './metrics';
import { IdempotencyKeyRepository } from './repositories/idempotency-key.repository';
import { ProductRepository } from './repositories/product.repository';
import { CachedTokenValidator } from './services/cached-token-validator';
import { ProductService } from './services/product.service';
import type { TokenValidator } from './services/token-validator';
import { SERVICE_NAME } from './service-info';

export interface CompositionOptions extends MessagingOptions {
  /** Process metrics (CPU, memory, event loop) on /metrics. Default true; tests building several instances pass false. */
  collectProcessMetrics?: boolean;
  /**
   * Checks the bearer tokens instead of the validation cache (which, with the RPC client, still
   * runs): a test's fake, or the benchmark's local JWT verification. Production passes nothing.
   */
  tokenValidator?: TokenValidator;
}

/** product-service wired and connecting: everything but the database (the caller's) and the listening socket. */
export interface ProductServiceRuntime extends MessagingRuntime {
  app: Express;
  metrics: ProductServiceMetrics;
  /** The token-validation RPC client (the requester). */
  client: TokenValidationClient;
  /** The validation cache in front of {@link client}, evicted by {@link authEvents}. */
  cache: CachedTokenValidator;
  /** /health answers 503 from now on: shutdown has begun. */
  stopAcceptingTraffic(): void;
  /**
   * Closes everything but the database, after the HTTP server has drained: the RPC client
   * (failing what still waits), the auth events consumer, the relay (after one last pass, so the
   * events of the last writes go out now), then the broker connection.
   */
  close(): Promise<void>;
}

/**
 * The composition root's wiring, in one place for main.ts, the in-process test harness and the
 * benchmark: metrics → RPC client → validation cache → messaging (outbox, relay, auth events
 * subscriber) → broker connection → ProductService → HTTP app. Opens the broker connection
 * (which comes up in the background) and starts the relay; listens on nothing.
 */
export async function composeProductService(
  config: Readonly<Config>,
  logger: Logger,
  sequelize: Sequelize,
  options: CompositionOptions = {},
): Promise<ProductServiceRuntime> {
  const metrics = new ProductServiceMetrics({
    sequelize,
    collectProcessMetrics: options.collectProcessMetrics,
  });
  // Shared by the RPC client (fails fast while the broker blocks us) and the messaging (which
  // feeds it from the connection and pauses the relay).
  const flowControl = new FlowControl();
  const client = new TokenValidationClient({
    queue: config.rpc.queue,
    timeoutMs: config.rpc.timeoutMs,
    maxPending: config.rpc.maxPending,
    userId: config.amqp.identities.own,
    responderUserId: config.amqp.identities.userService,
    logger,
    observer: metrics.rpcClientObserver,
    flowControl,
  });
  metrics.trackPendingCalls(() => client.pendingCount);
  // Every write goes through the cache, also with AUTH_CACHE_TTL_MS=0: concurrent checks of one
  // token then still share one RPC.
  const cache = new CachedTokenValidator({
    inner: client,
    ...config.authCache,
    observer: metrics.authCache.observer,
  });
  metrics.authCache.trackEntries(() => cache.size);

  const messaging = createServiceMessaging({
    service: SERVICE_NAME,
    sequelize,
    eventsExchange: config.amqp.productEventsExchange,
    authEventsExchange: config.amqp.authEventsExchange,
    identities: config.amqp.identities,
    cache,
    logger,
    metrics,
    options,
    flowControl,
  });
  const connected = await messaging.connect(config.amqp.urls, [client.setup]);

  const idempotencyKeys = new IdempotencyKeyRepository(sequelize);
  // Keys past their 24 h retention are no use to anyone: each replica sweeps (the DELETE is
  // idempotent, so replicas sweeping at once only repeat each other's work).
  const keyPurge = runEvery(config.idempotency.purgeIntervalMs, async () => {
    try {
      const purged = await idempotencyKeys.purgeExpired();
      if (purged > 0) logger.info({ purged }, 'purged expired idempotency keys');
    } catch (error) {
      logger.warn({ err: error }, 'could not purge expired idempotency keys');
    }
  });

  const loadShedder = startLoadShedder(config.loadShedding, logger, metrics);
  let acceptingTraffic = true;
  const app = createApp({
    config,
    logger,
    productService: new ProductService({
      products: new ProductRepository(),
      idempotencyKeys,
      outbox: messaging.outbox,
      withTransaction: transactionRunner(sequelize),
      events: messaging.relay,
    }),
    tokenValidator: options.tokenValidator ?? cache,
    healthChecks: [
      databaseHealthCheck(sequelize),
      withFlowControl(client.healthCheck(), flowControl),
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
    client,
    cache,
    stopAcceptingTraffic() {
      acceptingTraffic = false;
    },
    async close() {
      clearInterval(keyPurge);
      loadShedder.stop();
      // Fails what still waits for a reply: the connection goes next.
      await client.close();
      await messaging.close();
    },
  };
}
