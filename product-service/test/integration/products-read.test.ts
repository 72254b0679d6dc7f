import test from 'ava';

import type { FieldError, ProblemDetails } from '@shop/shared-contracts';
import { call, EVENTUALLY_MS } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { insertProduct, newUserId } from '../helpers/factories';
import { useProductService } from '../helpers/use-product-service';

const ctx = useProductService();

test('GET /products/{id} → 200 with the stored product in the public shape', async (t) => {
  const ownerId = newUserId();
  const row = await insertProduct(ctx.db, { name: 'Teapot', description: null, price: 24.5, quantity: 7, ownerId });

  const response = await call<PublicProduct>(ctx.service.baseUrl, 'GET', `/products/${row.id}`);

  t.is(response.status, 200);
  t.deepEqual(response.body, {
    id: row.id,
    name: 'Teapot',
    description: null,
    price: 24.5,
    quantity: 7,
    owner_id: ownerId,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  });
  t.regex(response.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('GET /products/{id} → 404 problem+json when no product has that id', async (t) => {
  const row = await insertProduct(ctx.db);
  const missingId = row.id + 1_000_000;

  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'GET', `/products/${missingId}`, {
    headers: { 'x-request-id': 'read-404' },
  });

  t.is(response.status, 404);
  t.is(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.deepEqual(response.body, {
    type: 'urn:problem-type:not-found',
    title: 'Not found',
    status: 404,
    detail: `Product ${missingId} does not exist.`,
    instance: `/products/${missingId}`,
    request_id: 'read-404',
  });
});

for (const id of ['abc', '0', '-1', '1.5', '2147483648', '99999999999999999999']) {
  test(`GET /products/${id} → 422 naming params.id`, async (t) => {
    const response = await call<ProblemDetails>(ctx.service.baseUrl, 'GET', `/products/${id}`);

    t.is(response.status, 422);
    t.is(response.body.type, 'urn:problem-type:validation-failed');
    t.deepEqual(
      response.body.errors?.map((error) => error.path),
      ['params.id'],
    );
  });
}

test('GET /products → 200 array with X-Total-Count, and includes a stored product', async (t) => {
  const row = await insertProduct(ctx.db);

  const response = await call<PublicProduct[]>(ctx.service.baseUrl, 'GET', '/products');

  t.is(response.status, 200);
  t.true(Array.isArray(response.body));
  t.true(Number(response.headers.get('x-total-count')) >= 1);
  t.truthy(response.body.find((product) => product.id === row.id));
});

test('GET /products → 422 listing every out-of-range query field', async (t) => {
  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'GET', '/products?skip=-1&limit=101');

  t.is(response.status, 422);
  t.deepEqual(
    response.body.errors?.map((error: FieldError) => [error.path, error.type]),
    [
      ['query.skip', 'number.min'],
      ['query.limit', 'number.max'],
    ],
  );
});

for (const query of ['limit=0', 'limit=abc', 'skip=1.5', 'limit=', 'skip=99999999999999999999']) {
  test(`GET /products?${query} → 422`, async (t) => {
    const response = await call<ProblemDetails>(ctx.service.baseUrl, 'GET', `/products?${query}`);

    t.is(response.status, 422);
    t.is(response.body.errors?.length, 1);
  });
}

test('GET /products and /products/{id} → public: no token needed and no RPC sent', async (t) => {
  const row = await insertProduct(ctx.db);
  const sentBefore = ctx.service.client.stats.sent;

  const list = await call(ctx.service.baseUrl, 'GET', '/products?limit=1');
  const one = await call(ctx.service.baseUrl, 'GET', `/products/${row.id}`, { token: 'ignored-on-reads' });

  t.is(list.status, 200);
  t.is(one.status, 200);
  t.is(ctx.service.client.stats.sent, sentBefore);
});

test('reads keep working while the broker is unreachable; writes get 503 at once, nothing sent; /health is 200 degraded', async (t) => {
  const row = await insertProduct(ctx.db);
  // The longest timeout there is: a write that waited for it would take a minute.
  const cutOff = await ctx.startAnother({
    env: { AMQP_URL: 'amqp://guest:guest@127.0.0.1:1', AUTH_RPC_TIMEOUT_MS: '60000' },
    waitForBroker: false,
  });

  const read = await call<PublicProduct>(cutOff.baseUrl, 'GET', `/products/${row.id}`);
  const write = await call<ProblemDetails>(cutOff.baseUrl, 'POST', '/products', {
    token: 'whatever',
    json: { name: 'x', price: 1, quantity: 1 },
  });
  const health = await call<{ status: string; checks: Record<string, { status: string }> }>(
    cutOff.baseUrl,
    'GET',
    '/health',
  );

  t.is(read.status, 200);
  t.is(read.body.id, row.id);
  t.is(write.status, 503);
  t.truthy(write.headers.get('retry-after'));
  t.true(write.elapsedMs < EVENTUALLY_MS, `the write waited ${write.elapsedMs} ms with a 60 s timeout`);
  t.like(cutOff.client.stats, { sent: 0, timeouts: 0, unavailable: 1 }, 'failed without waiting for an answer');
  t.is(health.status, 200);
  t.like(health.body, { status: 'degraded', checks: { database: { status: 'up' }, broker: { status: 'down' } } });
});
