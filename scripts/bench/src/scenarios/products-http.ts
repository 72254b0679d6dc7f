import type { BareExpressPgInput } from '../baselines/bare-express-pg';
import { runHttpLoad, type HttpLoadSpec } from '../load';
import { startServerWorker } from '../processes';
import { SCENARIOS, type Comparison } from '../results';
import { compareAtLevels, type Runner } from './compare';
import type { ScenarioContext } from './context';

/** The services' DB_POOL_MAX default; the bare server's pool gets the same. */
const POOL_MAX = 10;

const LEVELS = [16, 64];

const NEW_PRODUCT = JSON.stringify({
  name: 'Benchmark widget',
  description: 'Created by npm run bench',
  price: 19.99,
  quantity: 3,
});

/**
 * Scenarios 2 and 3: product-service's `GET /products?limit=100`, `GET /products/{id}` and
 * authenticated `POST /products` at 16 and 64 connections, each beside bare Express + pg
 * doing the same on the same database. Reads run first, on the seeded table only; the writes
 * then add rows.
 */
export async function productsHttp(ctx: ScenarioContext): Promise<Comparison[]> {
  const { env, stack, options, cleanup } = ctx;
  const bareInput: BareExpressPgInput = {
    databaseUrl: stack.productDatabaseUrl,
    amqpUrl: stack.amqpUrl,
    queue: stack.queue,
    rpcTimeoutMs: 3000,
    eventsExchange: env.exchangeName('product.events.bench.bare'),
    poolMax: POOL_MAX,
  };
  const bare = await startServerWorker('baselines/bare-express-pg', bareInput);
  cleanup.add('stop bare Express + pg', () => bare.stop());
  const bareUrl = `http://127.0.0.1:${bare.port}`;

  const runner =
    (
      baseUrl: string,
      spec: Omit<HttpLoadSpec, 'url' | 'connections' | 'warmupSeconds' | 'durationSeconds'>,
      path: string,
    ): Runner =>
    (connections, warmupSeconds, onMark) =>
      runHttpLoad(
        {
          ...spec,
          url: `${baseUrl}${path}`,
          connections,
          warmupSeconds,
          durationSeconds: options.durationSeconds,
        },
        onMark,
      );
  const settings = { repeats: options.repeats, warmupSeconds: options.warmupSeconds };

  const list = { method: 'GET' as const, expectStatuses: [200] };
  const byId = {
    method: 'GET' as const,
    expectStatuses: [200],
    idPath: { prefix: '/products/', min: stack.productIds.min, max: stack.productIds.max },
  };
  const create = {
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    bearerTokens: stack.bearerTokens,
    body: NEW_PRODUCT,
    expectStatuses: [201],
  };

  const comparisons = [
    ...(await compareAtLevels(
      {
        scenario: SCENARIOS.listProducts,
        system: 'product-service',
        ceiling: 'bare Express + pg',
        levels: LEVELS,
        unit: 'connections',
        runSystem: runner(stack.product.baseUrl, list, '/products?limit=100'),
        runCeiling: runner(bareUrl, list, '/products?limit=100'),
      },
      settings,
    )),
    ...(await compareAtLevels(
      {
        scenario: SCENARIOS.getProduct,
        system: 'product-service',
        ceiling: 'bare Express + pg',
        levels: LEVELS,
        unit: 'connections',
        runSystem: runner(stack.product.baseUrl, byId, '/products/1'),
        runCeiling: runner(bareUrl, byId, '/products/1'),
      },
      settings,
    )),
    ...(await compareAtLevels(
      {
        scenario: SCENARIOS.createProduct,
        system: 'product-service (RPC to user-service)',
        ceiling: 'bare Express + pg + bare RPC to user-service',
        levels: LEVELS,
        unit: 'connections',
        runSystem: runner(stack.product.baseUrl, create, '/products'),
        runCeiling: runner(bareUrl, create, '/products'),
      },
      settings,
    )),
  ];
  await bare.stop();
  return comparisons;
}
