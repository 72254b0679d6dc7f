import 'reflect-metadata';

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type ChannelModel, type RecoveringChannelModel } from 'amqplib';
import type { Express } from 'express';
import type { DestinationStream } from 'pino';
import { QueryTypes } from 'sequelize';
import type { Sequelize } from 'sequelize-typescript';

import type { TestEnvironment } from '@shop/test-harness';
import type { Logger } from '@shop/shared-runtime';
import { createSequelize, migrateToLatest, type OutboxRepository } from '@shop/shared-runtime/db';
import type { AuthEventsSubscriber, OutboxRelay } from '@shop/shared-runtime/messaging';

import { composeProductService } from '../../src/composition';
import { loadConfig, type Config } from '../../src/config';
import { MIGRATIONS, MODELS } from '../../src/db/schema';
import { createServiceLogger } from '../../src/logger';
import type { TokenValidationClient } from '../../src/messaging/token-validation.client';
import type { CachedTokenValidator } from '../../src/services/cached-token-validator';
import type { TokenValidator } from '../../src/services/token-validator';

/** A products row as stored, price as PostgreSQL's exact text. */
export interface ProductRow {
  id: number;
  name: string;
  description: string | null;
  price: string;
  quantity: number;
  owner_id: number;
  created_at: Date;
  updated_at: Date;
}

/** The test file's own migrated database, read and written with plain SQL. */
export interface TestDatabase {
  url: string;
  sequelize: Sequelize;
  /** The stored row, or undefined when there is none. */
  productRow(id: number): Promise<ProductRow | undefined>;
  /** Rows owned by one user, ordered by id. */
  productRowsOwnedBy(ownerId: number): Promise<ProductRow[]>;
  /** Rows with exactly this name, ordered by id. */
  productRowsNamed(name: string): Promise<ProductRow[]>;
  count(): Promise<number>;
  close(): Promise<void>;
}

export function testLogger(): Logger {
  return createServiceLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
}

/**
 * Creates this file's database and migrates it with the service's own migrations. One per
 * process: sequelize-typescript binds ProductModel to a single Sequelize instance.
 */
export async function openTestDatabase(env: TestEnvironment): Promise<TestDatabase> {
  const { url } = await env.createDatabase('product');
  const sequelize = createSequelize({ url, poolMax: 10, models: MODELS, logger: testLogger() });
  await migrateToLatest(sequelize, MIGRATIONS);
  const select = (where: string, replacements: Record<string, unknown>) =>
    sequelize.query<ProductRow>(`SELECT * FROM products WHERE ${where} ORDER BY id`, {
      type: QueryTypes.SELECT,
      replacements,
    });
  return {
    url,
    sequelize,
    async productRow(id) {
      return (await select('id = :id', { id }))[0];
    },
    productRowsOwnedBy: (ownerId) => select('owner_id = :ownerId', { ownerId }),
    productRowsNamed: (name) => select('name = :name', { name }),
    async count() {
      const [row] = await sequelize.query<{ count: string }>('SELECT count(*) AS count FROM products', {
        type: QueryTypes.SELECT,
      });
      return Number(row?.count);
    },
    close: () => sequelize.close(),
  };
}

export interface ProductServiceOptions {
  /** The RPC queue this instance sends token checks to. */
  queue: string;
  /** Environment overrides, e.g. `AUTH_RPC_TIMEOUT_MS`, `AMQP_URL`, `AUTH_CACHE_TTL_MS`. */
  env?: Record<string, string>;
  /** Wait for the broker before returning. Default true. */
  waitForBroker?: boolean;
  /** Where the service's log lines go, to read them in a test; stdout when absent. */
  logDestination?: DestinationStream;
  /** Checks the bearer tokens instead of the cache and RPC client (which still run), e.g. a fake. */
  tokenValidator?: TokenValidator;
}

export interface StartedProductService {
  baseUrl: string;
  app: Express;
  config: Readonly<Config>;
  client: TokenValidationClient;
  /** The token-validation cache in front of {@link client}; requireAuth asks it. */
  cache: CachedTokenValidator;
  /** Evicts from {@link cache} on the file's auth-events exchange (`config.amqp.authEventsExchange`). */
  subscriber: AuthEventsSubscriber;
  /** Publishes the outbox to the file's own `product.events` exchange (`config.amqp.productEventsExchange`). */
  relay: OutboxRelay;
  outbox: OutboxRepository;
  broker: RecoveringChannelModel;
  /** The broker connection's name, unique to this instance. */
  connectionName: string;
  /** The live AMQP connection under the recovering wrapper, while connected. */
  currentConnection(): ChannelModel | undefined;
  close(): Promise<void>;
}

let instances = 0;

/**
 * Declares the file's auth-events exchange as user-service, its owner, would have: product-service
 * only checks for it, and would otherwise wait for it (and flush its cache once it appears).
 */
async function declareAuthEventsExchange(amqpUrl: string, exchange: string): Promise<void> {
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
  } finally {
    await connection.close();
  }
}

/**
 * Starts product-service with main.ts's own wiring (composition.ts) — real config parsing, the
 * real RPC client, cache, subscriber and relay on the real broker, the real repositories on the
 * test database — with HTTP on an ephemeral port.
 */
export async function startProductService(
  env: TestEnvironment,
  database: TestDatabase,
  options: ProductServiceOptions,
): Promise<StartedProductService> {
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    AMQP_URL: env.amqpUrl,
    AUTH_RPC_QUEUE: options.queue,
    // Long enough for any round trip on a loaded machine: a test that needs to see a timeout
    // sets a short one for its own instance (`env`).
    AUTH_RPC_TIMEOUT_MS: '10000',
    // One exchange per test file: events a test publishes reach only that file's instances.
    AUTH_EVENTS_EXCHANGE: env.exchangeName('auth.events'),
    PRODUCT_EVENTS_EXCHANGE: env.exchangeName('product.events'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...options.env,
  });
  const logger = createServiceLogger({
    level: config.log.level,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  await declareAuthEventsExchange(env.amqpUrl, config.amqp.authEventsExchange);
  instances += 1;
  const runtime = await composeProductService(config, logger, database.sequelize, {
    connectionName: `product-service.test.${env.runId}.${instances}`,
    authEventsQueue: env.queueName(`product-service.auth-events.${instances}`),
    collectProcessMetrics: false,
    ...(options.tokenValidator ? { tokenValidator: options.tokenValidator } : {}),
  });
  const { broker } = runtime;
  let connection: ChannelModel | undefined;
  broker.on('connect', (model: ChannelModel) => {
    connection = model;
  });
  broker.on('disconnect', () => {
    connection = undefined;
  });
  if (options.waitForBroker ?? true) await broker.waitForConnect();

  const server = await listen(runtime.app);
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    app: runtime.app,
    config,
    client: runtime.client,
    cache: runtime.cache,
    subscriber: runtime.authEvents,
    relay: runtime.relay,
    outbox: runtime.outbox,
    broker,
    connectionName: runtime.connectionName,
    currentConnection: () => connection,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      await runtime.close();
    },
  };
}

/** Resolves once `condition` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function listen(app: Express): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => {
      resolve(server);
    });
    server.once('error', reject);
  });
}
