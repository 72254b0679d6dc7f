import test from 'ava';
import type { Express } from 'express';

import { createLogger } from '@shop/shared-runtime';

import { call } from '@shop/test-harness';

import { openApiDocument } from '../../src/api/openapi';
import { createApp } from '../../src/app';
import { useUserService } from '../helpers/use-user-service';

const ctx = useUserService();

test('GET /health → 200 with the database up and the RPC consumer attached', async (t) => {
  const response = await fetch(`${ctx.service.baseUrl}/health`);
  t.is(response.status, 200);
  t.like(await response.json(), {
    status: 'ok',
    service: 'user-service',
    checks: { database: { status: 'up' }, broker: { status: 'up', consumer: 'attached', queue: ctx.service.queue } },
  });
});

test('GET /health/live → 200', async (t) => {
  const response = await fetch(`${ctx.service.baseUrl}/health/live`);
  t.is(response.status, 200);
  t.like(await response.json(), { status: 'ok' });
});

test('GET /openapi.json → an OpenAPI 3.1 document with the bearer scheme', async (t) => {
  const response = await fetch(`${ctx.service.baseUrl}/openapi.json`);
  t.is(response.status, 200);
  t.like(await response.json(), {
    openapi: '3.1.0',
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
  });
});

test('GET /docs → the Swagger UI page', async (t) => {
  const response = await fetch(`${ctx.service.baseUrl}/docs`);
  t.is(response.status, 200);
  t.regex(await response.text(), /swagger-ui/);
});

/** Every (method, path) mounted on an Express 5 app, read from its router stack. */
function mountedRoutes(app: Express): string[] {
  interface Layer {
    route?: { path: string; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
  }
  const routes: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) routes.push(`${method} ${layer.route.path}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return routes;
}

test('OpenAPI document → documents every route the app mounts', (t) => {
  const app = createApp({
    config: ctx.service.config,
    logger: createLogger({ level: 'silent', service: 'user-service', version: 'test' }),
    authService: ctx.service.authService,
    healthChecks: [],
  });
  const routes = mountedRoutes(app);
  t.true(routes.length >= 6);
  const paths = openApiDocument.paths as Record<string, Record<string, unknown>>;
  for (const route of routes) {
    const [method, path] = route.split(' ') as [string, string];
    t.truthy(paths[path]?.[method], `${route} is not documented`);
  }
});

test('unknown route → 404 problem+json naming the route', async (t) => {
  const response = await fetch(`${ctx.service.baseUrl}/nope`);
  t.is(response.status, 404);
  t.is(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.like(await response.json(), { status: 404, detail: 'No route for GET /nope.', instance: '/nope' });
});

test('X-Request-Id → a sane client id is echoed; an unsafe one is replaced', async (t) => {
  const echoed = await fetch(`${ctx.service.baseUrl}/health/live`, { headers: { 'x-request-id': 'trace-123' } });
  t.is(echoed.headers.get('x-request-id'), 'trace-123');

  const replaced = await fetch(`${ctx.service.baseUrl}/health/live`, { headers: { 'x-request-id': 'x'.repeat(500) } });
  t.regex(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});

test('CORS is off by default → no CORS header for any origin, and no preflight is granted', async (t) => {
  const simple = await call(ctx.service.baseUrl, 'POST', '/register', {
    json: {},
    headers: { origin: 'https://shop.example' },
  });
  const preflight = await call(ctx.service.baseUrl, 'OPTIONS', '/register', {
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
  });

  t.is(simple.status, 422);
  for (const response of [simple, preflight]) {
    t.is(response.headers.get('access-control-allow-origin'), null);
    t.is(response.headers.get('access-control-allow-methods'), null);
  }
});

test("security headers → helmet's set on every response, and no X-Powered-By", async (t) => {
  for (const [method, path] of [
    ['GET', '/health/live'],
    ['POST', '/register'],
    ['GET', '/nope'],
  ] as const) {
    const response = await call(ctx.service.baseUrl, method, path);
    t.is(response.headers.get('x-content-type-options'), 'nosniff', path);
    t.is(response.headers.get('x-frame-options'), 'SAMEORIGIN', path);
    t.truthy(response.headers.get('content-security-policy'), path);
    t.is(response.headers.get('x-powered-by'), null, path);
  }
});
