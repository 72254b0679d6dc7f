import test from 'ava';

import type { ProblemDetails } from '@shop/shared-contracts';

import { call } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { insertProduct, newUserId, productInput } from '../helpers/factories';
import { useProductService } from '../helpers/use-product-service';

const ctx = useProductService();

/** A token the responder vouches for as `userId`. */
const tokenOf = (userId: number) => ctx.responder.tokenFor({ reply: 'valid', userId });

const errorPaths = (problem: ProblemDetails) => (problem.errors ?? []).map((error) => error.path).sort();

test('POST /products → 201 with the product, owner_id from the token reply, Location, and the row stored', async (t) => {
  const ownerId = newUserId();
  const input = productInput({ name: 'Kettle', description: 'Stainless steel.', price: 39.9, quantity: 4 });

  const response = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
    token: tokenOf(ownerId),
    json: input,
  });

  t.is(response.status, 201);
  t.like(response.body, { ...input, owner_id: ownerId });
  t.is(response.headers.get('location'), `/products/${response.body.id}`);
  const row = await ctx.db.productRow(response.body.id);
  t.like(row, { name: 'Kettle', description: 'Stainless steel.', price: '39.90', quantity: 4, owner_id: ownerId });
  t.is(response.body.created_at, row!.created_at.toISOString());
});

test('POST /products → name is trimmed and description defaults to null', async (t) => {
  const ownerId = newUserId();

  const response = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
    token: tokenOf(ownerId),
    json: { name: '  Mug  ', price: 5, quantity: 0 },
  });

  t.is(response.status, 201);
  t.like(response.body, { name: 'Mug', description: null, price: 5, quantity: 0 });
  t.like(await ctx.db.productRow(response.body.id), { name: 'Mug', description: null, price: '5.00' });
});

for (const [price, stored] of [
  [0.3, '0.30'],
  [0.01, '0.01'],
  [19.99, '19.99'],
  [100.1, '100.10'],
  [1234567.89, '1234567.89'],
  [9999999999.99, '9999999999.99'],
] as const) {
  test(`money → price ${price} is stored as ${stored} and read back as exactly ${price}`, async (t) => {
    const ownerId = newUserId();

    const created = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
      token: tokenOf(ownerId),
      json: productInput({ price }),
    });
    const read = await call<string>(ctx.service.baseUrl, 'GET', `/products/${created.body.id}`);

    t.is(created.status, 201);
    t.is(created.body.price, price);
    t.is((await ctx.db.productRow(created.body.id))?.price, stored);
    // The raw JSON text, so a float artefact like 0.30000000000000004 could not hide.
    const rawRead = await fetch(`${ctx.service.baseUrl}/products/${created.body.id}`);
    t.true((await rawRead.text()).includes(`"price":${String(price)},`));
    t.is(read.status, 200);
  });
}

test('POST /products → 422 listing every failing field, and nothing is stored', async (t) => {
  const ownerId = newUserId();

  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', {
    token: tokenOf(ownerId),
    json: { name: '   ', description: 'x'.repeat(1001), price: '12.50', quantity: -1, colour: 'red' },
  });

  t.is(response.status, 422);
  t.is(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.like(response.body, { type: 'urn:problem-type:validation-failed', status: 422, instance: '/products' });
  t.deepEqual(response.body.errors?.map((error) => [error.path, error.type]).sort(), [
    ['body.colour', 'object.unknown'],
    ['body.description', 'string.max'],
    ['body.name', 'string.empty'],
    ['body.price', 'number.base'],
    ['body.quantity', 'number.min'],
  ]);
  t.deepEqual(await ctx.db.productRowsOwnedBy(ownerId), []);
});

test('POST /products → 422 for missing required fields', async (t) => {
  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', {
    token: tokenOf(newUserId()),
    json: {},
  });

  t.is(response.status, 422);
  t.deepEqual(errorPaths(response.body), ['body.name', 'body.price', 'body.quantity']);
});

for (const [label, field, value, type] of [
  ['price with 3 decimals', 'price', 1.234, 'number.precision'],
  ['price 0.1 + 0.2 computed as a float', 'price', 0.1 + 0.2, 'number.precision'],
  ['price 0', 'price', 0, 'number.greater'],
  ['negative price', 'price', -5, 'number.greater'],
  ['price above 9999999999.99', 'price', 10_000_000_000, 'number.max'],
  ['price as a string', 'price', '12.50', 'number.base'],
  ['fractional quantity', 'quantity', 1.5, 'number.integer'],
  ['quantity as a string', 'quantity', '3', 'number.base'],
  ['quantity above 2^31-1', 'quantity', 2_147_483_648, 'number.max'],
  ['name of 256 characters', 'name', 'n'.repeat(256), 'string.max'],
  ['name null', 'name', null, 'string.base'],
  ['description a number', 'description', 5, 'string.base'],
] as const) {
  test(`POST /products → 422 for ${label}`, async (t) => {
    const ownerId = newUserId();

    const response = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', {
      token: tokenOf(ownerId),
      json: { ...productInput(), [field]: value },
    });

    t.is(response.status, 422);
    t.deepEqual(
      response.body.errors?.map((error) => [error.path, error.type]),
      [[`body.${field}`, type]],
    );
    t.deepEqual(await ctx.db.productRowsOwnedBy(ownerId), []);
  });
}

test('POST /products → 400 for a body that is not JSON', async (t) => {
  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', {
    token: tokenOf(newUserId()),
    raw: '{"name": "x",',
    headers: { 'content-type': 'application/json' },
  });

  t.is(response.status, 400);
  t.like(response.body, { type: 'urn:problem-type:malformed-request', detail: 'The request body is not valid JSON.' });
});

test('POST /products → 415 for a body that is not application/json', async (t) => {
  const ownerId = newUserId();

  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', {
    token: tokenOf(ownerId),
    raw: 'name=x&price=1&quantity=1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });

  t.is(response.status, 415);
  t.is(response.body.type, 'urn:problem-type:unsupported-media-type');
  t.deepEqual(await ctx.db.productRowsOwnedBy(ownerId), []);
});

test('POST /products → 413 for a body over 100 kB', async (t) => {
  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', {
    token: tokenOf(newUserId()),
    json: { ...productInput(), description: 'x'.repeat(110_000) },
  });

  t.is(response.status, 413);
  t.is(response.body.type, 'urn:problem-type:payload-too-large');
});

test('PATCH /products/{id} → 200 changing only the fields sent', async (t) => {
  const ownerId = newUserId();
  const before = await insertProduct(ctx.db, { ownerId, name: 'Old name', price: 10, quantity: 1 });

  const response = await call<PublicProduct>(ctx.service.baseUrl, 'PATCH', `/products/${before.id}`, {
    token: tokenOf(ownerId),
    json: { price: 12.5 },
  });

  t.is(response.status, 200);
  t.like(response.body, { id: before.id, name: 'Old name', price: 12.5, quantity: 1, owner_id: ownerId });
  const after = await ctx.db.productRow(before.id);
  t.like(after, { name: 'Old name', description: before.description, price: '12.50', quantity: 1 });
  t.true(after!.updated_at.getTime() >= before.updated_at.getTime());
  t.deepEqual(after!.created_at, before.created_at);
});

test('PUT /products/{id} → a partial update too: only the fields sent change', async (t) => {
  const ownerId = newUserId();
  const before = await insertProduct(ctx.db, { ownerId, name: 'Lamp', description: 'Desk lamp.', quantity: 2 });

  const response = await call<PublicProduct>(ctx.service.baseUrl, 'PUT', `/products/${before.id}`, {
    token: tokenOf(ownerId),
    json: { name: 'Floor lamp', description: null },
  });

  t.is(response.status, 200);
  t.like(response.body, { name: 'Floor lamp', description: null, quantity: 2, price: Number(before.price) });
  t.like(await ctx.db.productRow(before.id), {
    name: 'Floor lamp',
    description: null,
    price: before.price,
    quantity: 2,
  });
});

test('PATCH /products/{id} → 422 for an empty body ("at least one field"), row unchanged', async (t) => {
  const ownerId = newUserId();
  const before = await insertProduct(ctx.db, { ownerId });

  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'PATCH', `/products/${before.id}`, {
    token: tokenOf(ownerId),
    json: {},
  });

  t.is(response.status, 422);
  t.deepEqual(
    response.body.errors?.map((error) => [error.path, error.type]),
    [['body', 'object.min']],
  );
  t.regex(response.body.errors?.[0]?.message ?? '', /at least one field/);
  t.deepEqual(await ctx.db.productRow(before.id), before);
});

test('PUT /products/{id} → 422 listing the bad id and the bad body fields together', async (t) => {
  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'PUT', '/products/0', {
    token: tokenOf(newUserId()),
    json: { price: 0.001, owner_id: 5 },
  });

  t.is(response.status, 422);
  t.deepEqual(errorPaths(response.body), ['body.owner_id', 'body.price', 'params.id']);
});

test('PATCH /products/{id} → 422 for invalid values, and the row is unchanged', async (t) => {
  const ownerId = newUserId();
  const before = await insertProduct(ctx.db, { ownerId });

  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'PATCH', `/products/${before.id}`, {
    token: tokenOf(ownerId),
    json: { name: '', quantity: -3, price: '1.00' },
  });

  t.is(response.status, 422);
  t.deepEqual(errorPaths(response.body), ['body.name', 'body.price', 'body.quantity']);
  t.deepEqual(await ctx.db.productRow(before.id), before);
});

for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
  test(`${method} /products/{id} → 403 for a caller who is not the owner, and the row is unchanged`, async (t) => {
    const before = await insertProduct(ctx.db, { ownerId: newUserId() });

    const response = await call<ProblemDetails>(ctx.service.baseUrl, method, `/products/${before.id}`, {
      token: tokenOf(newUserId()),
      ...(method === 'DELETE' ? {} : { json: { name: 'Stolen' } }),
    });

    t.is(response.status, 403);
    t.like(response.body, { type: 'urn:problem-type:forbidden', status: 403 });
    t.deepEqual(await ctx.db.productRow(before.id), before);
  });

  test(`${method} /products/{id} → 404 for a product that does not exist`, async (t) => {
    const row = await insertProduct(ctx.db);
    const missingId = row.id + 1_000_000;

    const response = await call<ProblemDetails>(ctx.service.baseUrl, method, `/products/${missingId}`, {
      token: tokenOf(newUserId()),
      ...(method === 'DELETE' ? {} : { json: { name: 'Ghost' } }),
    });

    t.is(response.status, 404);
    t.is(response.body.detail, `Product ${missingId} does not exist.`);
    t.is(await ctx.db.productRow(missingId), undefined);
  });

  test(`${method} /products/{id} → 401 without a token, and the row is unchanged`, async (t) => {
    const before = await insertProduct(ctx.db);

    const response = await call<ProblemDetails>(ctx.service.baseUrl, method, `/products/${before.id}`, {
      ...(method === 'DELETE' ? {} : { json: { name: 'Anonymous' } }),
    });

    t.is(response.status, 401);
    t.is(response.headers.get('www-authenticate'), 'Bearer');
    t.deepEqual(await ctx.db.productRow(before.id), before);
  });
}

test('DELETE /products/{id} → 204 with no body, and the row is gone', async (t) => {
  const ownerId = newUserId();
  const row = await insertProduct(ctx.db, { ownerId });

  const response = await call(ctx.service.baseUrl, 'DELETE', `/products/${row.id}`, { token: tokenOf(ownerId) });
  const again = await call(ctx.service.baseUrl, 'GET', `/products/${row.id}`);

  t.is(response.status, 204);
  t.is(response.body, undefined);
  t.is(await ctx.db.productRow(row.id), undefined);
  t.is(again.status, 404);
});

test('DELETE /products/{id} → 422 for an id that is not a positive integer', async (t) => {
  const response = await call<ProblemDetails>(ctx.service.baseUrl, 'DELETE', '/products/abc', {
    token: tokenOf(newUserId()),
  });

  t.is(response.status, 422);
  t.deepEqual(errorPaths(response.body), ['params.id']);
});

test('the README walkthrough answers → 401 without a token and the 422 with its three errors, word for word', async (t) => {
  const unauthorised = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', {
    json: { name: 'Laptop', price: 999.99, quantity: 10 },
  });
  const invalid = await call<ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', {
    token: tokenOf(newUserId()),
    json: { name: '', price: 10.999, quantity: -1 },
  });

  t.like(unauthorised.body, {
    type: 'urn:problem-type:unauthorized',
    title: 'Unauthorized',
    status: 401,
    detail: 'Send a bearer token in the Authorization header.',
    instance: '/products',
  });
  t.like(invalid.body, { status: 422, detail: 'The request has 3 invalid fields.' });
  t.deepEqual(invalid.body.errors, [
    { path: 'body.name', message: '"name" is not allowed to be empty', type: 'string.empty' },
    { path: 'body.price', message: '"price" must have at most 2 decimals', type: 'number.precision' },
    { path: 'body.quantity', message: '"quantity" must be greater than or equal to 0', type: 'number.min' },
  ]);
});
