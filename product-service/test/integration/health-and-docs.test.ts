import test from 'ava';
import type { Express } from 'express';

import type { ProblemDetails } from '@shop/shared-contracts';

import { call } from '@shop/test-harness';

import { createOpenApiDocument } from '../../src/api/openapi';
import { insertProduct, newUserId } from '../helpers/factories';
import { useProductService } from '../helpers/use-product-service';

const ctx = useProductService();

const openApiDocument = createOpenApiDocument({ userServicePublicUrl: 'http://localhost:8001' });

interface Health {
  status: string;
  service: string;
  version: string;
  checks: Record<string, { status: string; [detail: string]: unknown }>;
}

test('GET /health → 200 with the database up and the RPC channel open', async (t) => {
  const response = await call<Health>(ctx.service.baseUrl, 'GET', '/health');

  t.is(response.status, 200);
  t.is(response.headers.get('cache-control'), 'no-store');
  t.like(response.body, {
    status: 'ok',
    service: 'product-service',
    version: '1.0.0',
    checks: { database: { status: 'up' }, broker: { status: 'up', queue: ctx.queue } },
  });
  t.is(typeof response.body.checks.database?.latency_ms, 'number');
});

test('GET /health and /health/ready → 200 degraded with the broker down once the RPC client is closed: reads still work', async (t) => {
  const service = await ctx.startAnother();
  await service.client.close();

  for (const path of ['/health', '/health/ready']) {
    const response = await call<Health>(service.baseUrl, 'GET', path);

    t.is(response.status, 200, path);
    t.is(response.headers.get('retry-after'), null, path);
    t.like(response.body, { status: 'degraded', checks: { database: { status: 'up' }, broker: { status: 'down' } } });
  }
});

test('GET /health → 200 degraded while the RPC queue (user-service’s) does not exist yet, saying whose it is', async (t) => {
  const queue = ctx.unusedQueue('never-declared');
  const service = await ctx.startAnother({ queue });

  const response = await call<Health>(service.baseUrl, 'GET', '/health');
  const again = await call<Health>(service.baseUrl, 'GET', '/health');

  t.is(response.status, 200);
  t.like(response.body, { status: 'degraded', checks: { broker: { status: 'down', queue } } });
  t.regex(String(response.body.checks.broker?.error), /does not exist yet.*user-service/);
  t.like(again.body, { status: 'degraded' }, 'the failed passive check closed only its own channel');
  t.true(service.client.isReady);
});

test('GET /health/live → 200', async (t) => {
  const response = await call(ctx.service.baseUrl, 'GET', '/health/live');

  t.is(response.status, 200);
  t.like(response.body, { status: 'ok', service: 'product-service' });
});

test('GET /openapi.json → OpenAPI 3.1 with the bearer scheme on every write and on no read', async (t) => {
  const response = await call<typeof openApiDocument>(ctx.service.baseUrl, 'GET', '/openapi.json');

  t.is(response.status, 200);
  t.like(response.body, {
    openapi: '3.1.0',
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
  });
  const paths = response.body.paths as unknown as Record<string, Record<string, { security?: unknown[] }>>;
  // Public operations declare `security: []`.
  const secured = (path: string, method: string) => (paths[path]?.[method]?.security?.length ?? 0) > 0;
  t.true(secured('/products', 'post'));
  t.true(secured('/products/{id}', 'put'));
  t.true(secured('/products/{id}', 'patch'));
  t.true(secured('/products/{id}', 'delete'));
  t.false(secured('/products', 'get'));
  t.false(secured('/products/{id}', 'get'));
});

test('GET /openapi.json → every documented error response refers to a defined response', (t) => {
  const defined = new Set(Object.keys(openApiDocument.components.responses));
  const paths = openApiDocument.paths as unknown as Record<
    string,
    Record<string, { responses: Record<string, { $ref?: string }> }>
  >;
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (response.$ref === undefined) continue;
        const name = response.$ref.replace('#/components/responses/', '');
        t.true(defined.has(name), `${method} ${path} ${status} refers to a missing ${name}`);
      }
    }
  }
});

test('GET /docs → redirected to /docs/, the Swagger UI page', async (t) => {
  const redirect = await call(ctx.service.baseUrl, 'GET', '/docs');
  const response = await call<string>(ctx.service.baseUrl, 'GET', '/docs/');

  t.is(redirect.status, 301);
  t.is(redirect.headers.get('location'), '/docs/');
  t.is(response.status, 200);
  t.regex(response.body, /swagger-ui/);
});

/** Every `method path` mounted on an Express 5 app, read from its router stack, in OpenAPI form. */
function mountedRoutes(app: Express): string[] {
  interface Layer {
    route?: { path: string; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
  }
  const routes: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const path = layer.route.path.replace(/:(\w+)/g, '{$1}');
        for (const method of Object.keys(layer.route.methods)) routes.push(`${method} ${path}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return routes;
}

test('OpenAPI document → documents every route the app mounts, and only those', (t) => {
  const mounted = mountedRoutes(ctx.service.app).sort();
  const paths = openApiDocument.paths as unknown as Record<string, Record<string, unknown>>;
  const documented = Object.entries(paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
    .sort();

  t.true(mounted.length >= 10);
  t.deepEqual(mounted, documented);
});

test('unknown route → 404 problem+json naming the route', async (t) => {
  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'GET', '/nope?x=1');

  t.is(response.status, 404);
  t.is(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.like(response.body, { status: 404, detail: 'No route for GET /nope.', instance: '/nope' });
});

test('X-Request-Id → on every response, echoed when sane and replaced when not', async (t) => {
  const ownerId = newUserId();
  const row = await insertProduct(ctx.db, { ownerId });
  const token = ctx.responder.tokenFor({ reply: 'valid', userId: ownerId });
  const requests = [
    call(ctx.service.baseUrl, 'GET', '/products'),
    call(ctx.service.baseUrl, 'GET', `/products/${row.id}`),
    call(ctx.service.baseUrl, 'GET', '/products/0'),
    call(ctx.service.baseUrl, 'POST', '/products', { json: {} }),
    call(ctx.service.baseUrl, 'DELETE', `/products/${row.id}`, { token }),
    call(ctx.service.baseUrl, 'GET', '/health'),
    call(ctx.service.baseUrl, 'GET', '/missing'),
  ];
  const responses = await Promise.all(requests);
  t.deepEqual(
    responses.map((response) => response.status),
    [200, 200, 422, 401, 204, 200, 404],
  );
  for (const response of responses) t.regex(response.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);

  const echoed = await call(ctx.service.baseUrl, 'GET', '/health/live', { headers: { 'x-request-id': 'trace-123' } });
  const replaced = await call(ctx.service.baseUrl, 'GET', '/health/live', {
    headers: { 'x-request-id': 'x'.repeat(500) },
  });
  t.is(echoed.headers.get('x-request-id'), 'trace-123');
  t.regex(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});

test('problem bodies carry the request id and never a stack trace or SQL', async (t) => {
  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'GET', '/products/abc', {
    headers: { 'x-request-id': 'problem-id-1' },
  });

  t.is(response.body.request_id, 'problem-id-1');
  t.deepEqual(Object.keys(response.body).sort(), [
    'detail',
    'errors',
    'instance',
    'request_id',
    'status',
    'title',
    'type',
  ]);
  t.notRegex(JSON.stringify(response.body), /SELECT|at .*\.js:\d+/);
});

test('CORS is off by default → no CORS header for any origin, and no preflight is granted', async (t) => {
  const read = await call(ctx.service.baseUrl, 'GET', '/products?limit=1', {
    headers: { origin: 'https://shop.example' },
  });
  const preflight = await call(ctx.service.baseUrl, 'OPTIONS', '/products', {
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
  });

  t.is(read.status, 200);
  for (const response of [read, preflight]) {
    t.is(response.headers.get('access-control-allow-origin'), null);
    t.is(response.headers.get('access-control-allow-methods'), null);
  }
});

test("security headers → helmet's set on every response, and no X-Powered-By", async (t) => {
  for (const [method, path] of [
    ['GET', '/products?limit=1'],
    ['POST', '/products'],
    ['GET', '/products/abc'],
    ['GET', '/nope'],
  ] as const) {
    const response = await call(ctx.service.baseUrl, method, path);
    t.is(response.headers.get('x-content-type-options'), 'nosniff', path);
    t.is(response.headers.get('x-frame-options'), 'SAMEORIGIN', path);
    t.truthy(response.headers.get('content-security-policy'), path);
    t.is(response.headers.get('x-powered-by'), null, path);
  }
});
