import test from 'ava';

import { call } from '@shop/test-harness';

import { useProductService } from '../helpers/use-product-service';

// How CORS answers is shared-runtime's (its test/integration/cors.test.ts); what is product-service's
// own is which origins come from CORS_ORIGINS, which methods its routes answer and which headers they add.
const ALLOWED = 'https://shop.example';
const ctx = useProductService({ CORS_ORIGINS: ALLOWED });

test('CORS → a preflight for a write from an origin of CORS_ORIGINS is 204 allowing the methods product-service’s routes answer', async (t) => {
  const response = await call(ctx.service.baseUrl, 'OPTIONS', '/products/1', {
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
  t.regex(response.headers.get('access-control-allow-methods') ?? '', /PUT/, 'PUT /products/:id');
});

test('CORS → a preflight may send Idempotency-Key, If-Match and If-None-Match; scripts may read ETag and Idempotent-Replayed', async (t) => {
  const preflight = await call(ctx.service.baseUrl, 'OPTIONS', '/products/1', {
    headers: {
      origin: ALLOWED,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'authorization, content-type, if-match',
    },
  });
  const read = await call(ctx.service.baseUrl, 'GET', '/products/1', { headers: { origin: ALLOWED } });

  const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
  for (const header of ['authorization', 'content-type', 'idempotency-key', 'if-match', 'if-none-match']) {
    t.true(allowed.includes(header), header);
  }
  const exposed = (read.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/,\s*/);
  for (const header of ['etag', 'idempotent-replayed', 'location', 'x-request-id']) {
    t.true(exposed.includes(header), header);
  }
});
