import type { Express } from 'express';

import type { HealthCheck, Logger } from '@shop/shared-runtime';
import { createHttpApp, type LoadShedder } from '@shop/shared-runtime/http';

import { createOpenApiDocument } from './api/openapi';
import { createProductsRouter } from './api/products.routes';
import { userServiceAuth } from './api/require-auth';
import type { Config } from './config';
import { ProductServiceMetrics } from './metrics';
import type { ProductService } from './services/product.service';
import type { TokenValidator } from './services/token-validator';
import { SERVICE_NAME, SERVICE_VERSION } from './service-info';

export interface AppDeps {
  config: Pick<Config, 'http' | 'docs'>;
  logger: Logger;
  productService: ProductService;
  /** Checks bearer tokens on writes: the validation cache in front of the RabbitMQ RPC client, or a fake. */
  tokenValidator: TokenValidator;
  healthChecks: HealthCheck[];
  /** False once shutdown has begun: /health turns 503 before the listener closes. */
  isAcceptingTraffic?: () => boolean;
  /** Sheds requests past the load limits; none (tests): nothing is shed. */
  loadShedder?: LoadShedder;
  /** Served at /metrics; a fresh registry when absent (tests that do not look at metrics). */
  metrics?: ProductServiceMetrics;
}

/** Builds the HTTP app from ready dependencies. Reads no environment and opens no socket. */
export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    service: SERVICE_NAME,
    version: SERVICE_VERSION,
    http: deps.config.http,
    logger: deps.logger,
    metrics: deps.metrics ?? new ProductServiceMetrics({ collectProcessMetrics: false }),
    corsMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    // A browser may retry creates and make conditional edits too.
    corsHeaders: {
      request: ['Idempotency-Key', 'If-Match', 'If-None-Match'],
      response: ['ETag', 'Idempotent-Replayed'],
    },
    routers: [
      createProductsRouter({
        productService: deps.productService,
        auth: userServiceAuth(deps.tokenValidator),
      }),
    ],
    healthChecks: deps.healthChecks,
    isAcceptingTraffic: deps.isAcceptingTraffic ?? (() => true),
    openApiDocument: createOpenApiDocument({ userServicePublicUrl: deps.config.docs.userServicePublicUrl }),
    loadShedder: deps.loadShedder,
  });
}
