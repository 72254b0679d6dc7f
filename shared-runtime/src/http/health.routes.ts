import { Router } from 'express';

import { RETRY_AFTER_SECONDS } from '../errors';
import type { HealthCheck } from '../health';

export function createHealthRouter(deps: {
  service: string;
  version: string;
  checks: readonly HealthCheck[];
  /** False once shutdown has begun, so load balancers stop sending traffic first. */
  isAcceptingTraffic: () => boolean;
}): Router {
  const router = Router();

  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok', service: deps.service, version: deps.version });
  });

  router.get('/health', async (_req, res) => {
    const results = await Promise.all(deps.checks.map(async (check) => [check.name, await check.check()] as const));
    const checks = Object.fromEntries(results);
    const healthy = deps.isAcceptingTraffic() && results.every(([, result]) => result.status === 'up');
    res
      .status(healthy ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .set(healthy ? {} : { 'Retry-After': String(RETRY_AFTER_SECONDS) })
      .json({
        status: healthy ? 'ok' : deps.isAcceptingTraffic() ? 'unavailable' : 'shutting_down',
        service: deps.service,
        version: deps.version,
        checks,
      });
  });

  return router;
}
