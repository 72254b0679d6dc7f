import type { RecoveringChannelModel } from 'amqplib';
import type { Express } from 'express';
import type { Sequelize } from 'sequelize-typescript';

import type { Logger } from '@shop/shared-runtime';
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
import { TokenValidationClient } from './messaging/token-validation.client';
import { ProductServiceMetrics } from './metrics';
import { ProductRepository } from './repositories/product.repository';
import { CachedTokenValidator } from './services/cached-token-validator';
import { ProductService } from './services/product.service';
import type { TokenValidator } from './services/token-validator';
import { SERVICE_NAME } from './service-info';

export interface CompositionOptions {
  /** The broker connection's name in the management UI. Default `product-service@<host>/<pid>`. */
  connectionName?: string;
  /** This instance's auth-events queue. Default `product-service.auth-events.<host>.<pid>`. */
  authEventsQueue?: string;
  /**
   * Checks the bearer tokens instead of the validation cache (which, with the RPC client, still
   * runs): a test's fake, or the benchmark's local JWT verification. Production passes nothing.
   */
  tokenValidator?: TokenValidator;
  /** Process metrics (CPU, memory, event loop) on /metrics. Default true; tests building several instances pass false. */
  collectProcessMetrics?: boolean;
}

/** product-service wired and connecting: everything but the database (the caller's) and the listening socket. */
export interface ProductServiceRuntime {
  app: Express;
  metrics: ProductServiceMetrics;
  /** The token-validation RPC client (the requester). */
  client: TokenValidationClient;
  /** The validation cache in front of {@link client}. */
  cache: CachedTokenValidator;
  /** Evicts from {@link cache} on auth events. */
  authEvents: AuthEventsSubscriber;
  /** Publishes the outbox to the product events exchange. */
  relay: OutboxRelay;
  outbox: OutboxRepository;
  /** The recovering connection (it may still be connecting). */
  broker: RecoveringChannelModel;
  /** The connection's name, as the management UI shows it. */
  connectionName: string;
  /** /health answers 503 from now on: shutdown has begun. */
  stopAcceptingTraffic(): void;
  /**
   * Closes everything but the database, after the HTTP server has drained: the auth events
   * consumer, the RPC client (failing what still waits), the relay (after one last pass, so the
   * events of the last writes go out now), then the broker connection.
   */
  close(): Promise<void>;
}

/**
 * The composition root's wiring, in one place for main.ts, the in-process test harness and the
 * benchmark: metrics → RPC client → validation cache → outbox and its relay → auth events
 * subscriber → broker connection → ProductService → HTTP app. Opens the broker connection
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
    collectProcessMetrics: options.collectProcessMetrics ?? true,
  });
  const client = new TokenValidationClient({
    queue: config.rpc.queue,
    timeoutMs: config.rpc.timeoutMs,
    maxPending: config.rpc.maxPending,
    logger,
    observer: metrics.rpcClientObserver,
  });
  metrics.trackPendingCalls(() => client.pendingCount);
  // Every write goes through the cache, also with AUTH_CACHE_TTL_MS=0: concurrent checks of one
  // token then still share one RPC.
  const cache = new CachedTokenValidator({
    inner: client,
    ttlMs: config.authCache.ttlMs,
    maxEntries: config.authCache.maxEntries,
    observer: metrics.authCacheObserver,
  });
  metrics.trackAuthCacheEntries(() => cache.size);

  const withTransaction = transactionRunner(sequelize);
  const events = createEventOutbox({
    sequelize,
    exchange: config.amqp.productEventsExchange,
    appId: SERVICE_NAME,
    logger,
    metrics,
  });
  const { outbox, relay } = events;
  const authEvents = new AuthEventsSubscriber({
    exchange: config.amqp.authEventsExchange,
    queue: options.authEventsQueue ?? instanceQueueName(SERVICE_NAME, 'auth-events'),
    cache,
    logger,
    observer: metrics.authEventsObserver,
  });
  const name = options.connectionName ?? connectionName(SERVICE_NAME);
  const broker = await connectToBroker({
    url: config.amqp.url,
    connectionName: name,
    // Every component's setup runs, in this order, after every (re)connect.
    setup: setupAll([client.setup, authEvents.setup, relay.setup]),
    logger,
    onReconnect: () => {
      metrics.brokerReconnects.inc();
    },
  });
  events.start();

  let acceptingTraffic = true;
  const app = createApp({
    config,
    logger,
    productService: new ProductService({ products: new ProductRepository(), outbox, withTransaction, events: relay }),
    tokenValidator: options.tokenValidator ?? cache,
    healthChecks: [databaseHealthCheck(sequelize), client.healthCheck(), authEvents.healthCheck()],
    isAcceptingTraffic: () => acceptingTraffic,
    metrics,
  });

  return {
    app,
    metrics,
    client,
    cache,
    authEvents,
    relay,
    outbox,
    broker,
    connectionName: name,
    stopAcceptingTraffic() {
      acceptingTraffic = false;
    },
    async close() {
      await authEvents.close();
      await client.close();
      await events.stop();
      await broker.close().catch(() => undefined);
    },
  };
}
