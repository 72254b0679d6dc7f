import type { Express } from 'express';

import type { HealthCheck, Logger } from '@shop/shared-runtime';
import { createHttpApp, formBody, type LoadShedder } from '@shop/shared-runtime/http';

import { createAuthRouter } from './api/auth.routes';
import { openApiDocument } from './api/openapi';
import { credentialRateLimit, loginUsernameRateLimit } from './api/rate-limit';
import { callerAuth } from './api/require-auth';
import { createUsersRouter } from './api/users.routes';
import type { Config } from './config';
import { UserServiceMetrics } from './metrics';
import type { AuthService } from './services/auth.service';
import { SERVICE_NAME, SERVICE_VERSION } from './service-info';

export interface AppDeps {
  config: Pick<Config, 'http' | 'rateLimit'>;
  logger: Logger;
  authService: AuthService;
  healthChecks: HealthCheck[];
  /** False once shutdown has begun: /health turns 503 before the listener closes. */
  isAcceptingTraffic?: () => boolean;
  /** Sheds requests past the load limits; none (tests): nothing is shed. */
  loadShedder?: LoadShedder;
  /** Served at /metrics; a fresh registry when absent (tests that do not look at metrics). */
  metrics?: UserServiceMetrics;
}

/** Builds the HTTP app from ready dependencies. Reads no environment and opens no socket. */
export function createApp(deps: AppDeps): Express {
  const { config } = deps;
  return createHttpApp({
    service: SERVICE_NAME,
    version: SERVICE_VERSION,
    http: config.http,
    logger: deps.logger,
    metrics: deps.metrics ?? new UserServiceMetrics({ collectProcessMetrics: false }),
    corsMethods: ['GET', 'HEAD', 'POST', 'PATCH'],
    // The OAuth2 password flow posts an HTML form.
    extraBodyParsers: [formBody(config.http.bodyLimitBytes)],
    routers: [
      createAuthRouter({
        authService: deps.authService,
        credentialRateLimit: credentialRateLimit(config.rateLimit.perMinute),
        loginUsernameRateLimit: loginUsernameRateLimit(config.rateLimit.loginPerUsernamePerMinute),
      }),
      createUsersRouter({ authService: deps.authService, auth: callerAuth(deps.authService) }),
    ],
    healthChecks: deps.healthChecks,
    isAcceptingTraffic: deps.isAcceptingTraffic ?? (() => true),
    openApiDocument,
    loadShedder: deps.loadShedder,
  });
}
