import express, { type Express } from 'express';
import helmet from 'helmet';

import { jsonBody } from './api/body-parsing';
import { cors } from './api/cors';
import { createDocsRouter } from './api/docs.routes';
import { errorHandler, notFoundHandler } from './api/error-handler';
import { createHealthRouter } from './api/health.routes';
import { openApiDocument } from './api/openapi';
import { createProductsRouter } from './api/products.routes';
import { createMetricsRouter, httpMetrics } from './api/metrics.routes';
import { requestContext } from './api/request-context';
import { requireAuth } from './api/require-auth';
import type { Config } from './config';
import type { HealthCheck } from './health';
import type { Logger } from './logger';
import { ProductServiceMetrics } from './metrics';
import type { ProductService } from './services/product.service';
import type { TokenValidator } from './services/token-validator';
import { SERVICE_NAME, SERVICE_VERSION } from './service-info';

export interface AppDeps {
  config: Pick<Config, 'http'>;
  logger: Logger;
  productService: ProductService;
  /** Checks bearer tokens on writes: the validation cache in front of the RabbitMQ RPC client, or a fake. */
  tokenValidator: TokenValidator;
  healthChecks: HealthCheck[];
  /** False once shutdown has begun: /health turns 503 before the listener closes. */
  isAcceptingTraffic?: () => boolean;
  /** Served at /metrics; a fresh registry when absent (tests that do not look at metrics). */
  metrics?: ProductServiceMetrics;
}

/** Builds the HTTP app from ready dependencies. Reads no environment and opens no socket. */
export function createApp(deps: AppDeps): Express {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.http.trustProxyHops);
  // `<`, `>` and `&` in JSON become \u003c…: a stored `<script>` stays inert even if sniffed as HTML.
  app.set('json escape', true);

  const metrics = deps.metrics ?? new ProductServiceMetrics({ collectProcessMetrics: false });
  app.use(requestContext(logger));
  app.use(httpMetrics(metrics.httpRequestDuration));
  // Ahead of the parsers and routes, so error responses carry CORS headers too and browsers can read them.
  app.use(cors({ origins: config.http.corsOrigins, methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] }));
  app.use(
    helmet({
      // TLS is terminated in front of the service; HSTS and upgrade-insecure-requests belong
      // there, and would break the Swagger UI on plain http://localhost.
      strictTransportSecurity: false,
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    }),
  );
  app.use(jsonBody(config.http.bodyLimitBytes));

  // First: the catalogue is the traffic, and a request Express matches here never walks the
  // routers below.
  app.use(
    createProductsRouter({
      productService: deps.productService,
      requireAuth: requireAuth(deps.tokenValidator),
    }),
  );
  app.use(
    createHealthRouter({
      service: SERVICE_NAME,
      version: SERVICE_VERSION,
      checks: deps.healthChecks,
      isAcceptingTraffic: deps.isAcceptingTraffic ?? (() => true),
    }),
  );
  app.use(createMetricsRouter(metrics.registry));
  app.use(createDocsRouter(openApiDocument));

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
