import { randomBytes, randomUUID } from 'node:crypto';

import jwt from 'jsonwebtoken';

import type { TestEnvironment } from '@shop/test-harness';

import type { Cleanup } from './cleanup';
import type { BenchOptions } from './options';
import { startOtlpSink } from './otlp-sink';
import { progress } from './progress';
import { seedProducts } from './seed';
import { startService, type BenchService } from './service-process';

/** user-service's JWT_ISSUER and JWT_AUDIENCE defaults, which the bare echo verifies against too. */
export const JWT_ISSUER = 'user-service';
export const JWT_AUDIENCE = 'shop';

/** The running system under test and what the scenarios need to drive it. */
export interface Stack {
  user: BenchService;
  product: BenchService;
  /** The RPC queue both services use, private to this run. */
  queue: string;
  /**
   * product-service's environment (production, this run's queue, exchanges and database),
   * validation cache left at its default: for more instances of it.
   */
  productEnv: Record<string, string>;
  /** user-service's environment (same database, key and queue): for a second responder. */
  userEnv: Record<string, string>;
  secretKey: string;
  amqpUrl: string;
  productDatabaseUrl: string;
  username: string;
  password: string;
  userId: number;
  token: string;
  /**
   * More tokens of the same user, signed as user-service signs them (the bench holds the
   * secret, as the bare echo does): one login per token would cost seconds of bcrypt each.
   */
  bearerTokens: string[];
  /** Ids of the seeded products. */
  productIds: { min: number; max: number };
}

/** Production settings shared by both services; each gets its own database and the private queue. */
/** Tokens for load runs that hand each request in flight its own; at least the most connections. */
const BEARER_TOKENS = 128;

function productionEnv(
  amqpUrl: string,
  queue: string,
  exchanges: { auth: string; product: string },
  otlpEndpoint: string | undefined,
): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    AMQP_URL: amqpUrl,
    AUTH_RPC_QUEUE: queue,
    AUTH_EVENTS_EXCHANGE: exchanges.auth,
    PRODUCT_EVENTS_EXCHANGE: exchanges.product,
    ...(otlpEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint } : {}),
  };
}

/**
 * Both services in production mode on fresh databases (each service creates and migrates its
 * own, as in production), a registered user with a token, and the seeded catalogue.
 * Everything started is registered with `cleanup`.
 */
export async function startStack(
  env: TestEnvironment,
  options: BenchOptions,
  cleanup: Cleanup,
  /** The broker the services use: the harness's (shared) one unless the bench started its own. */
  amqpUrl: string = env.amqpUrl,
): Promise<Stack> {
  const queue = env.queueName('auth.validate_token.bench');
  const exchanges = { auth: env.exchangeName('auth.events.bench'), product: env.exchangeName('product.events.bench') };
  const secretKey = randomBytes(48).toString('base64url');
  const userDatabaseUrl = env.databaseUrl(env.reserveDatabaseName('benchusers'));
  const productDatabaseUrl = env.databaseUrl(env.reserveDatabaseName('benchproducts'));
  let otlpEndpoint: string | undefined;
  if (options.tracing) {
    const sink = await startOtlpSink();
    cleanup.add('close the OTLP sink', async () => {
      progress(`OTLP sink received ${sink.requests} export requests, ${Math.round(sink.bytes / 1024)} KiB`);
      await sink.close();
    });
    otlpEndpoint = sink.endpoint;
    progress(`tracing on: both services export spans to ${otlpEndpoint}`);
  }

  progress(`starting user-service (NODE_ENV=production, BCRYPT_ROUNDS=${options.bcryptRounds})`);
  const userEnv = {
    ...productionEnv(amqpUrl, queue, exchanges, otlpEndpoint),
    DATABASE_URL: userDatabaseUrl,
    SECRET_KEY: secretKey,
    BCRYPT_ROUNDS: String(options.bcryptRounds),
    // The login scenario hammers one address and one username; the limiters would turn it
    // into a 429 test. (The per-username one counts a login whose connection closed before
    // its answer as failed, and a load generator closes its in-flight ones at every stop.)
    RATE_LIMIT_PER_MINUTE: '0',
    LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE: '0',
  };
  const user = await startService('user-service', userEnv, {
    profileDir: options.profileDir,
    nodeArgs: options.serviceNodeArgs,
  });
  cleanup.add('stop user-service', () => user.stop());

  progress('starting product-service');
  const productEnv = { ...productionEnv(amqpUrl, queue, exchanges, otlpEndpoint), DATABASE_URL: productDatabaseUrl };
  const product = await startService(
    'product-service',
    {
      ...productEnv,
      // Every authorised write makes its RPC: the scenario measures that path. The cache has
      // its own scenario.
      AUTH_CACHE_TTL_MS: '0',
    },
    { profileDir: options.profileDir, nodeArgs: options.serviceNodeArgs },
  );
  cleanup.add('stop product-service', () => product.stop());

  const username = 'bench_owner';
  const password = 'bench-password-1';
  const credentials = { username, password };
  const registered = await postJson(`${user.baseUrl}/register`, credentials, 201);
  const userId = (registered as { id: number }).id;
  const login = await postJson(`${user.baseUrl}/login`, credentials, 200);
  const token = (login as { access_token: string }).access_token;

  const bearerTokens = Array.from({ length: BEARER_TOKENS }, () =>
    jwt.sign({ username }, secretKey, {
      algorithm: 'HS256',
      expiresIn: '1h',
      subject: String(userId),
      jwtid: randomUUID(),
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
    }),
  );
  const probe = await fetch(`${user.baseUrl}/validate-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: bearerTokens[0] }),
  });
  const verdict = (await probe.json()) as { valid?: boolean };
  if (verdict.valid !== true) throw new Error(`user-service refuses the bench's tokens: ${JSON.stringify(verdict)}`);

  progress(`seeding ${options.products} products owned by user ${userId}`);
  const productIds = await seedProducts(productDatabaseUrl, userId, options.products);

  return {
    user,
    product,
    queue,
    productEnv,
    userEnv,
    secretKey,
    amqpUrl,
    productDatabaseUrl,
    username,
    password,
    userId,
    token,
    bearerTokens,
    productIds,
  };
}

async function postJson(url: string, body: unknown, expectedStatus: number): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expectedStatus) throw new Error(`POST ${url} answered ${response.status}: ${text}`);
  return JSON.parse(text) as unknown;
}
