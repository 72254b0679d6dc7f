import { Router, type RequestHandler } from 'express';

import { RETRY_AFTER_SECONDS } from '../errors';
import { readinessOf, type HealthCheck } from '../health';

/**
 * Liveness (`/health/live`: the process runs; restart it when this fails) and readiness
 * (`/health/ready`, and `/health` for people and older probes: send it traffic while this is 200).
 */
export function createHealthRouter(deps: {
  service: string;
  version: string;
  checks: readonly HealthCheck[];
  /** False once shutdown has begun, so load balancers stop sending traffic first. */
  isAcceptingTraffic: () => boolean;
}): Router {
  const router = Router();

  router.get('/health/live', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok', service: deps.service, version: deps.version });
  });

  const readiness: RequestHandler = async (_req, res) => {
    const results = await Promise.all(
      deps.checks.map(async (check) => ({ name: check.name, critical: check.critical, status: await check.check() })),
    );
    const status = readinessOf(results, deps.isAcceptingTraffic());
    const ready = status === 'ok' || status === 'degraded';
    res
      .status(ready ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .set(ready ? {} : { 'Retry-After': String(RETRY_AFTER_SECONDS) })
      .json({
        status,
        service: deps.service,
        version: deps.version,
        checks: Object.fromEntries(results.map((result) => [result.name, result.status])),
      });
  };
  router.get('/health/ready', readiness);
  router.get('/health', readiness);

  return router;
}
