import test from 'ava';

import { call } from '../helpers/http';
import { useUserService } from '../helpers/use-user-service';

const ALLOWED = 'https://shop.example';
const ctx = useUserService({ CORS_ORIGINS: `${ALLOWED}, http://localhost:3000` });

test('CORS → an allowed origin is echoed exactly, with Vary: Origin, on success and on error', async (t) => {
  const ok = await call(ctx.service.baseUrl, 'GET', '/health/live', { headers: { origin: ALLOWED } });
  const problem = await call(ctx.service.baseUrl, 'POST', '/register', { json: {}, headers: { origin: ALLOWED } });

  for (const response of [ok, problem]) {
    t.is(response.headers.get('access-control-allow-origin'), ALLOWED);
    t.regex(response.headers.get('vary') ?? '', /Origin/);
    t.regex(response.headers.get('access-control-expose-headers') ?? '', /X-Request-Id/);
    t.is(response.headers.get('access-control-allow-credentials'), null);
  }
  t.is(problem.status, 422);
});

test('CORS → a preflight from an allowed origin is 204 with the methods and headers allowed', async (t) => {
  const response = await call(ctx.service.baseUrl, 'OPTIONS', '/login', {
    headers: {
      origin: 'http://localhost:3000',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });

  t.is(response.status, 204);
  t.is(response.headers.get('access-control-allow-origin'), 'http://localhost:3000');
  t.regex(response.headers.get('access-control-allow-methods') ?? '', /POST/);
  t.regex(response.headers.get('access-control-allow-headers') ?? '', /Content-Type/);
  t.regex(response.headers.get('access-control-allow-headers') ?? '', /Authorization/);
  t.truthy(response.headers.get('access-control-max-age'));
});

test('CORS → an origin not on the list gets no CORS header, and its preflight allows nothing', async (t) => {
  for (const origin of ['https://evil.example', 'https://shop.example.evil.example', 'null', 'https://SHOP.example']) {
    const simple = await call(ctx.service.baseUrl, 'GET', '/health/live', { headers: { origin } });
    const preflight = await call(ctx.service.baseUrl, 'OPTIONS', '/register', {
      headers: { origin, 'access-control-request-method': 'POST' },
    });

    t.is(simple.status, 200);
    t.is(simple.headers.get('access-control-allow-origin'), null, origin);
    t.is(preflight.status, 204);
    t.is(preflight.headers.get('access-control-allow-origin'), null, origin);
    t.is(preflight.headers.get('access-control-allow-methods'), null, origin);
  }
});

test('CORS → a request without Origin (curl, another service) is served as usual', async (t) => {
  const response = await call(ctx.service.baseUrl, 'GET', '/health/live');
  t.is(response.status, 200);
  t.is(response.headers.get('access-control-allow-origin'), null);
});
