import express, { type Express, type RequestHandler, type Router } from 'express';
import helmet from 'helmet';

import type { HttpConfig } from '../config';
import type { HealthCheck } from '../health';
import type { Logger } from '../logger';
import type { ServiceMetrics } from '../metrics';
import { jsonBody } from './body-parsing';
import { cors } from './cors';
import { createDocsRouter } from './docs.routes';
import { errorHandler, notFoundHandler } from './error-handler';
import { createHealthRouter } from './health.routes';
import { loadShedding, type LoadShedder } from './load-shedding';
import { createMetricsRouter, httpMetrics } from './metrics.routes';
import { requestContext } from './request-context';

export interface HttpAppOptions {
  service: string;
  version: string;
  http: Pick<HttpConfig, 'trustProxyHops' | 'corsOrigins' | 'bodyLimitBytes'>;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Methods a CORS preflight may ask for: the ones the service's routes answer. */
  corsMethods: readonly string[];
  /** Headers of the service's own routes that CORS must let browsers send and read (`If-Match`, `ETag`). */
  corsHeaders?: { request?: readonly string[]; response?: readonly string[] };
  /** Body parsers beside JSON (an HTML-form parser). */
  extraBodyParsers?: readonly RequestHandler[];
  /**
   * The service's own routers, mounted first: they are the traffic, and a request Express
   * matches there never walks the health, metrics and docs routers.
   */
  routers: readonly Router[];
  healthChecks: readonly HealthCheck[];
  /** False once shutdown has begun: /health turns 503 before the listener closes. */
  isAcceptingTraffic: () => boolean;
  /** Served at /openapi.json and, with Swagger UI, at /docs. */
  openApiDocument: object;
  /** Sheds requests past the service's load limits (never health or metrics); none: nothing is shed. */
  loadShedder?: LoadShedder;
}

/**
 * A service's Express app around its routers, in the order every service needs: request
 * context (ids, access log) → HTTP metrics → CORS → security headers → load shedding (so a shed
 * request costs no more than its id, its headers, its access line and its 503, and still shows
 * in the metrics) → body parsers → the service's routers → health, metrics, docs → 404 → the
 * one error handler. Reads no environment and opens no socket.
 */
export function createHttpApp(options: HttpAppOptions): Express {
  const { logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.http.trustProxyHops);
  // `<`, `>` and `&` in JSON become \u003c…: a stored `<script>` stays inert even if sniffed as HTML.
  app.set('json escape', true);

  app.use(requestContext(logger));
  app.use(httpMetrics(options.metrics.httpRequestDuration));
  // Ahead of the parsers and routes, so error responses carry CORS headers too and browsers can read them.
  app.use(
    cors({
      origins: options.http.corsOrigins,
      methods: options.corsMethods,
      ...(options.corsHeaders?.request ? { requestHeaders: options.corsHeaders.request } : {}),
      ...(options.corsHeaders?.response ? { responseHeaders: options.corsHeaders.response } : {}),
    }),
  );
  app.use(
    helmet({
      // TLS is terminated in front of the service; HSTS and upgrade-insecure-requests belong
      // there, and would break the Swagger UI on plain http://localhost.
      strictTransportSecurity: false,
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    }),
  );
  // Ahead of the parsers and routes (the work), behind CORS (so a browser can read the 503).
  if (options.loadShedder) app.use(loadShedding(options.loadShedder));
  app.use(jsonBody(options.http.bodyLimitBytes));
  for (const parser of options.extraBodyParsers ?? []) app.use(parser);

  for (const router of options.routers) app.use(router);
  app.use(
    createHealthRouter({
      service: options.service,
      version: options.version,
      checks: options.healthChecks,
      isAcceptingTraffic: options.isAcceptingTraffic,
    }),
  );
  app.use(createMetricsRouter(options.metrics.registry));
  app.use(createDocsRouter(options.openApiDocument, options.service));

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
