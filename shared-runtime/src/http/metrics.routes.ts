import { Router, type RequestHandler } from 'express';
import type { Histogram, Registry } from 'prom-client';

/** `GET /metrics`: the service's Prometheus metrics in the text exposition format. */
export function createMetricsRouter(registry: Registry): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}

/**
 * Times every request into the duration histogram, labelled by the route pattern that
 * matched (`/products/:id`), never the raw path, so ids do not explode the label set.
 */
export function httpMetrics(histogram: Histogram<'method' | 'route' | 'status'>): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.once('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      histogram.observe(
        {
          method: req.method,
          route: typeof route === 'string' ? `${req.baseUrl}${route}` : 'unmatched',
          status: String(res.statusCode),
        },
        (performance.now() - started) / 1000,
      );
    });
    next();
  };
}
