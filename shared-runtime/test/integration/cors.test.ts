import test, { type ExecutionContext } from 'ava';
import { Router } from 'express';

import { call } from '@shop/test-harness';

import { createLogger, ServiceMetrics, ValidationError } from '../../src';
import { bearerAuth, createHttpApp } from '../../src/http';
import { serve } from '../helpers/http';

const ALLOWED = 'https://shop.example';
const ALSO_ALLOWED = 'http://localhost:3000';
const METHODS = ['GET', 'HEAD', 'POST', 'DELETE'];
/** The one token the routes' authenticator vouches for. */
const GOOD_TOKEN = 'good-token';

/**
 * A service's app as createHttpApp builds it, allowing `origins`, around routes that list,
 * refuse a body (422) and write behind bearerAuth's requireAuth (401 without a good token).
 */
async function serveApp(t: ExecutionContext, origins: string[]): Promise<string> {
  const router = Router();
  router.get('/items', (_req, res) => {
    res.set('X-Total-Count', '1').json([{ id: 1 }]);
  });
  router.post('/register', () => {
    throw new ValidationError([{ path: 'body.username', message: '"username" is required', type: 'any.required' }]);
  });
  router.post(
    '/items',
    bearerAuth((token) =>
      token === GOOD_TOKEN ? Promise.resolve({ userId: 7 }) : Promise.reject(new Error('unexpected token')),
    ).requireAuth,
    (_req, res) => {
      res.status(201).json({ id: 2 });
    },
  );
  const app = createHttpApp({
    service: 'test-service',
    version: 'test',
    http: { trustProxyHops: 0, corsOrigins: origins, bodyLimitBytes: 102_400 },
    logger: createLogger({ level: 'silent', service: 'test-service', version: 'test' }),
    metrics: new ServiceMetrics({ service: 'test-service', collectProcessMetrics: false }),
    corsMethods: METHODS,
    routers: [router],
    healthChecks: [],
    isAcceptingTraffic: () => true,
    openApiDocument: { openapi: '3.0.3', info: { title: 'test-service', version: 'test' }, paths: {} },
  });
  return serve(t, app);
}

test('CORS → an allowed origin is echoed exactly, with Vary: Origin and the exposed headers, on success and on error; never credentials', async (t) => {
  const baseUrl = await serveApp(t, [ALLOWED, ALSO_ALLOWED]);

  const list = await call(baseUrl, 'GET', '/items', { headers: { origin: ALLOWED } });
  const health = await call(baseUrl, 'GET', '/health/live', { headers: { origin: ALLOWED } });
  const problem = await call(baseUrl, 'POST', '/register', { json: {}, headers: { origin: ALLOWED } });

  t.is(list.status, 200);
  t.is(health.status, 200);
  t.is(problem.status, 422);
  for (const response of [list, health, problem]) {
    t.is(response.headers.get('access-control-allow-origin'), ALLOWED);
    t.regex(response.headers.get('vary') ?? '', /Origin/);
    t.regex(response.headers.get('access-control-expose-headers') ?? '', /X-Request-Id/);
    t.regex(response.headers.get('access-control-expose-headers') ?? '', /X-Total-Count/);
    t.is(response.headers.get('access-control-allow-credentials'), null);
  }
});

test('CORS → a preflight from an allowed origin is 204 with the service’s methods, the headers allowed and a max age', async (t) => {
  const baseUrl = await serveApp(t, [ALLOWED, ALSO_ALLOWED]);

  const response = await call(baseUrl, 'OPTIONS', '/items', {
    headers: {
      origin: ALSO_ALLOWED,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });

  t.is(response.status, 204);
  t.is(response.headers.get('access-control-allow-origin'), ALSO_ALLOWED);
  t.is(response.headers.get('access-control-allow-methods'), METHODS.join(', '));
  t.regex(response.headers.get('access-control-allow-headers') ?? '', /Content-Type/);
  t.regex(response.headers.get('access-control-allow-headers') ?? '', /Authorization/);
  // Swagger UI's Authorize sends it when another service's docs log in at user-service.
  t.regex(response.headers.get('access-control-allow-headers') ?? '', /X-Requested-With/);
  t.truthy(response.headers.get('access-control-max-age'));
});

test('CORS → the 401 of a write from an allowed origin carries the CORS headers, so the page can read it', async (t) => {
  const baseUrl = await serveApp(t, [ALLOWED]);

  const response = await call(baseUrl, 'POST', '/items', { json: { name: 'lamp' }, headers: { origin: ALLOWED } });

  t.is(response.status, 401);
  t.is(response.headers.get('access-control-allow-origin'), ALLOWED);
  t.regex(response.headers.get('access-control-expose-headers') ?? '', /WWW-Authenticate/);
});

test('CORS → an origin not on the list gets no CORS header, and its preflight allows nothing', async (t) => {
  const baseUrl = await serveApp(t, [ALLOWED, ALSO_ALLOWED]);

  for (const origin of ['https://evil.example', 'https://shop.example.evil.example', 'null', 'https://SHOP.example']) {
    const simple = await call(baseUrl, 'GET', '/health/live', { headers: { origin } });
    const preflight = await call(baseUrl, 'OPTIONS', '/register', {
      headers: { origin, 'access-control-request-method': 'POST' },
    });

    t.is(simple.status, 200);
    t.is(simple.headers.get('access-control-allow-origin'), null, origin);
    t.is(preflight.status, 204);
    t.is(preflight.headers.get('access-control-allow-origin'), null, origin);
    t.is(preflight.headers.get('access-control-allow-methods'), null, origin);
  }
});

test('CORS → a write from another origin is still authorised and served: CORS only tells browsers what a page may read', async (t) => {
  const baseUrl = await serveApp(t, [ALLOWED]);

  const write = await call(baseUrl, 'POST', '/items', {
    json: { name: 'lamp' },
    token: GOOD_TOKEN,
    headers: { origin: 'https://evil.example' },
  });

  t.is(write.status, 201);
  t.is(write.headers.get('access-control-allow-origin'), null);
});

test('CORS → a request without Origin (curl, another service) is served as usual', async (t) => {
  const baseUrl = await serveApp(t, [ALLOWED]);

  const response = await call(baseUrl, 'GET', '/health/live');

  t.is(response.status, 200);
  t.is(response.headers.get('access-control-allow-origin'), null);
});

test('CORS → an empty origin list turns CORS off: no CORS header at all, and a preflight is not answered by it', async (t) => {
  const baseUrl = await serveApp(t, []);

  const simple = await call(baseUrl, 'GET', '/items', { headers: { origin: ALLOWED } });
  const preflight = await call(baseUrl, 'OPTIONS', '/items', {
    headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
  });

  t.is(simple.status, 200);
  for (const response of [simple, preflight]) {
    t.is(response.headers.get('access-control-allow-origin'), null);
    t.is(response.headers.get('access-control-allow-methods'), null);
    t.notRegex(response.headers.get('vary') ?? '', /Origin/);
  }
  t.not(preflight.status, 204, 'no CORS preflight answer');
});
