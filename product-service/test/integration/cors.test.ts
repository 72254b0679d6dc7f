import test from 'ava';

import { newUserId, productInput } from '../helpers/factories';
import { rawCall } from '../helpers/http';
import { useProductService } from '../helpers/use-product-service';

const ALLOWED = 'https://shop.example';
const ctx = useProductService({ CORS_ORIGINS: ALLOWED });

test('CORS → an allowed origin may read a list, with X-Total-Count exposed and Vary: Origin', async (t) => {
  const response = await rawCall(ctx.service.baseUrl, 'GET', '/products?limit=1', { headers: { origin: ALLOWED } });

  t.is(response.status, 200);
  t.is(response.headers.get('access-control-allow-origin'), ALLOWED);
  t.regex(response.headers.get('access-control-expose-headers') ?? '', /X-Total-Count/);
  t.regex(response.headers.get('vary') ?? '', /Origin/);
  t.is(response.headers.get('access-control-allow-credentials'), null);
});

test('CORS → a preflight for an authorised write from an allowed origin is 204 allowing Authorization', async (t) => {
  const response = await rawCall(ctx.service.baseUrl, 'OPTIONS', '/products/1', {
    headers: {
      origin: ALLOWED,
      'access-control-request-method': 'PATCH',
      'access-control-request-headers': 'authorization, content-type',
    },
  });

  t.is(response.status, 204);
  t.is(response.headers.get('access-control-allow-origin'), ALLOWED);
  t.regex(response.headers.get('access-control-allow-methods') ?? '', /PATCH/);
  t.regex(response.headers.get('access-control-allow-methods') ?? '', /DELETE/);
  t.regex(response.headers.get('access-control-allow-headers') ?? '', /Authorization/);
});

test('CORS → the 401 of a write from an allowed origin carries the CORS headers, so the page can read it', async (t) => {
  const response = await rawCall(ctx.service.baseUrl, 'POST', '/products', {
    json: productInput(),
    headers: { origin: ALLOWED },
  });

  t.is(response.status, 401);
  t.is(response.headers.get('access-control-allow-origin'), ALLOWED);
  t.regex(response.headers.get('access-control-expose-headers') ?? '', /WWW-Authenticate/);
});

test('CORS → another origin gets no CORS header, and its preflight allows nothing; the write is still authorised', async (t) => {
  const evil = 'https://evil.example';
  const preflight = await rawCall(ctx.service.baseUrl, 'OPTIONS', '/products', {
    headers: { origin: evil, 'access-control-request-method': 'POST' },
  });
  const write = await rawCall(ctx.service.baseUrl, 'POST', '/products', {
    json: productInput(),
    token: ctx.responder.tokenFor({ reply: 'valid', userId: newUserId() }),
    headers: { origin: evil },
  });

  t.is(preflight.status, 204);
  t.is(preflight.headers.get('access-control-allow-origin'), null);
  t.is(preflight.headers.get('access-control-allow-methods'), null);
  // CORS only tells browsers what a page may read; a non-browser client is not stopped by it.
  t.is(write.status, 201);
  t.is(write.headers.get('access-control-allow-origin'), null);
});
