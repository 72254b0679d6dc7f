import type { LocalJwtProductServiceInput } from '../baselines/product-service-local-jwt';
import { runHttpLoad } from '../load';
import { startServerWorker } from '../processes';
import { SCENARIOS, type Comparison } from '../results';
import { startService } from '../service-process';
import { JWT_AUDIENCE, JWT_ISSUER } from '../stack';
import { compareAtLevels, type Runner } from './compare';
import type { ScenarioContext } from './context';

const LEVELS = [16, 64];

const NEW_PRODUCT = JSON.stringify({
  name: 'Cached benchmark widget',
  description: 'Created by npm run bench (validation cache)',
  price: 9.99,
  quantity: 1,
});

/**
 * Authenticated `POST /products` with the validation cache on (its default TTL, revocation by
 * events), beside the same product-service verifying the JWT in process: the ceiling of any
 * scheme that delegates the check. Both on the run's database, queue and exchanges; the same
 * tokens, so after the warm-up every validation of the system is a cache hit.
 */
export async function cachedWrites(ctx: ScenarioContext): Promise<Comparison[]> {
  const { stack, options, cleanup } = ctx;
  const cached = await startService('product-service', stack.productEnv, {
    profileDir: options.profileDir,
    nodeArgs: options.serviceNodeArgs,
    label: 'product-service (cache)',
  });
  cleanup.add('stop product-service (cache)', () => cached.stop());
  const localInput: LocalJwtProductServiceInput = {
    env: stack.productEnv,
    secretKey: stack.secretKey,
    issuer: JWT_ISSUER,
    audience: JWT_AUDIENCE,
  };
  const local = await startServerWorker('baselines/product-service-local-jwt', localInput);
  cleanup.add('stop product-service (local JWT)', () => local.stop());

  const runner =
    (baseUrl: string): Runner =>
    (connections, warmupSeconds, onMark) =>
      runHttpLoad(
        {
          url: `${baseUrl}/products`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          bearerTokens: stack.bearerTokens,
          body: NEW_PRODUCT,
          expectStatuses: [201],
          connections,
          warmupSeconds,
          durationSeconds: options.durationSeconds,
        },
        onMark,
      );
  const comparisons = await compareAtLevels(
    {
      scenario: SCENARIOS.createProductCached,
      system: 'product-service (validation cache)',
      ceiling: 'product-service verifying the JWT locally',
      levels: LEVELS,
      unit: 'connections',
      runSystem: runner(cached.baseUrl),
      runCeiling: runner(`http://127.0.0.1:${local.port}`),
    },
    { repeats: options.repeats, warmupSeconds: options.warmupSeconds },
  );
  await Promise.all([cached.stop(), local.stop()]);
  return comparisons;
}
