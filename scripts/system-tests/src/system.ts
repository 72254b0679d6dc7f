import { AUTH_EVENTS_EXCHANGE, AUTH_VALIDATE_TOKEN_QUEUE, PRODUCT_EVENTS_EXCHANGE } from '@shop/shared-contracts';
import type { BrokerIdentities, TestEnvironment } from '@shop/test-harness';

import { ServiceProcess } from './service-process';

export interface RunningSystem {
  user: ServiceProcess;
  product: ServiceProcess;
  /** The RPC queue both services use, private to this test run. */
  queue: string;
  /** The event exchanges, private to this test run. */
  exchanges: { auth: string; product: string };
  /** The services' databases, for asserting stored state directly. */
  databaseUrls: { user: string; product: string };
  stop(): Promise<void>;
}

/**
 * The broker settings of each service as a deployment with separated identities has them: each
 * logs in as its own user of `identities` into the run's vhost, where the production names of
 * the queue and exchanges are private to the run; each names the other's user; user-service
 * answers product-service only.
 */
export function identityEnvironment(identities: BrokerIdentities): {
  user: Record<string, string>;
  product: Record<string, string>;
} {
  const names = {
    USER_SERVICE_BROKER_USER: identities.user('user-service'),
    PRODUCT_SERVICE_BROKER_USER: identities.user('product-service'),
    AUTH_RPC_QUEUE: AUTH_VALIDATE_TOKEN_QUEUE,
    AUTH_EVENTS_EXCHANGE,
  };
  return {
    user: {
      ...names,
      AMQP_URL: identities.url('user-service'),
      AUTH_RPC_ALLOWED_CALLERS: identities.user('product-service'),
    },
    product: { ...names, AMQP_URL: identities.url('product-service'), PRODUCT_EVENTS_EXCHANGE },
  };
}

/**
 * Both services as real processes on fresh databases (created by the services themselves,
 * as in production) and a private RPC queue; dropped by the environment afterwards. With
 * `identities`, each service logs in as its own broker user in the run's vhost instead
 * ({@link identityEnvironment}).
 */
export async function startSystem(
  env: TestEnvironment,
  overrides: { user?: Record<string, string>; product?: Record<string, string>; identities?: BrokerIdentities } = {},
): Promise<RunningSystem> {
  const separated = overrides.identities ? identityEnvironment(overrides.identities) : undefined;
  const queue = separated ? AUTH_VALIDATE_TOKEN_QUEUE : env.queueName('auth.validate_token');
  const exchanges = separated
    ? { auth: AUTH_EVENTS_EXCHANGE, product: PRODUCT_EVENTS_EXCHANGE }
    : { auth: env.exchangeName('auth.events'), product: env.exchangeName('product.events') };
  const databaseUrls = {
    user: env.databaseUrl(env.reserveDatabaseName('sysusers')),
    product: env.databaseUrl(env.reserveDatabaseName('sysproducts')),
  };
  const started: ServiceProcess[] = [];
  try {
    const user = await ServiceProcess.start('user-service', {
      DATABASE_URL: databaseUrls.user,
      AMQP_URL: env.amqpUrl,
      AUTH_RPC_QUEUE: queue,
      AUTH_EVENTS_EXCHANGE: exchanges.auth,
      SECRET_KEY: 'system-test-secret-key-of-at-least-32-characters',
      BCRYPT_ROUNDS: '4',
      RATE_LIMIT_PER_MINUTE: '0',
      ...separated?.user,
      ...overrides.user,
    });
    started.push(user);
    await user.waitForLog(/consuming token-validation requests/);
    const product = await ServiceProcess.start('product-service', {
      DATABASE_URL: databaseUrls.product,
      AMQP_URL: env.amqpUrl,
      AUTH_RPC_QUEUE: queue,
      AUTH_EVENTS_EXCHANGE: exchanges.auth,
      PRODUCT_EVENTS_EXCHANGE: exchanges.product,
      ...separated?.product,
      ...overrides.product,
    });
    started.push(product);
    await waitUntilHealthy(product.baseUrl);
    return {
      user,
      product,
      queue,
      exchanges,
      databaseUrls,
      async stop() {
        await Promise.all([user.stop(), product.stop()]);
      },
    };
  } catch (error) {
    // A half-started system must not outlive the test that failed to start it.
    await Promise.all(started.map((service) => service.stop('SIGKILL')));
    throw error;
  }
}

/** Polls `GET /health` until 200: the service is connected to its database and the broker. */
export async function waitUntilHealthy(baseUrl: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(`${baseUrl}/health`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${baseUrl}/health still answers ${status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * One more product-service process beside a running system: same database, RPC queue and event
 * exchanges, its own port and its own per-instance auth-events queue. Stop it yourself.
 */
export async function startProductInstance(
  env: TestEnvironment,
  system: RunningSystem,
  overrides: Record<string, string> = {},
): Promise<ServiceProcess> {
  const product = await ServiceProcess.start('product-service', {
    DATABASE_URL: system.databaseUrls.product,
    AMQP_URL: env.amqpUrl,
    AUTH_RPC_QUEUE: system.queue,
    AUTH_EVENTS_EXCHANGE: system.exchanges.auth,
    PRODUCT_EVENTS_EXCHANGE: system.exchanges.product,
    ...overrides,
  });
  try {
    await waitUntilHealthy(product.baseUrl);
  } catch (error) {
    await product.stop('SIGKILL');
    throw error;
  }
  return product;
}
