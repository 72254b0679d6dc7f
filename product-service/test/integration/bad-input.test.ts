import test from 'ava';
import { QueryTypes } from 'sequelize';

import { call, type CallOptions, expectProblem, INTERNALS } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { insertProduct, newUserId, productInput } from '../helpers/factories';
import type { ProductRow } from '../helpers/product-service';
import { useProductService } from '../helpers/use-product-service';

// Every endpoint against malformed, mistyped, oversized and hostile input. Each case asserts
// the exact status, the problem+json naming the failing fields, and that the products table is
// exactly as before (or changed exactly as a success says). Serial: the table is compared as
// a whole, so no other test of this file may write to it meanwhile.
const ctx = useProductService();

const snapshot = () =>
  ctx.db.sequelize.query<ProductRow>('SELECT * FROM products ORDER BY id', { type: QueryTypes.SELECT });

let ownerId = 0;
let target: ProductRow | undefined;
const ownerToken = () => ctx.responder.tokenFor({ reply: 'valid', userId: ownerId });

test.serial.before(async () => {
  ownerId = newUserId();
  target = await insertProduct(ctx.db, { ownerId, name: 'Target', description: 'The product the cases aim at.' });
});

interface Case {
  title: string;
  method: string;
  /** `{id}` stands for the target product's id. */
  path: string;
  request?: CallOptions;
  /** Send no token on a write (by default writes carry the owner's). */
  anonymous?: boolean;
  status: number;
  /** For 422: every field `errors` must name. */
  paths?: string[];
  /** For a 201: fields the one new row must hold, exactly. */
  stores?: Partial<ProductRow>;
  /** For a 200 on PUT/PATCH: fields of the target row after the change. */
  changes?: Partial<ProductRow>;
}

const json = (value: unknown): CallOptions => ({ json: value });
const raw = (text: string, contentType = 'application/json'): CallOptions => ({
  raw: text,
  headers: { 'content-type': contentType },
});
const product = (overrides: Record<string, unknown>) => json({ ...productInput(), ...overrides });

const ROUTES = [
  ['GET', '/products'],
  ['GET', '/products/{id}'],
  ['POST', '/products'],
  ['PUT', '/products/{id}'],
  ['PATCH', '/products/{id}'],
  ['DELETE', '/products/{id}'],
  ['GET', '/health'],
  ['GET', '/health/live'],
  ['GET', '/metrics'],
  ['GET', '/openapi.json'],
  ['GET', '/docs'],
] as const;

const BODY_ROUTES = [
  ['POST', '/products'],
  ['PUT', '/products/{id}'],
  ['PATCH', '/products/{id}'],
] as const;

const everyRoute: Case[] = ROUTES.flatMap(([method, path]): Case[] => [
  { title: 'malformed JSON', method, path, request: raw('{"name": "x",'), status: 400 },
  {
    title: 'a JSON body over 100 kB',
    method,
    path,
    request: product({ description: 'x'.repeat(110_000) }),
    status: 413,
  },
  {
    title: 'a gzip body that does not inflate',
    method,
    path,
    request: { raw: 'not gzip', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } },
    status: 400,
  },
]);

const everyBodyRoute: Case[] = BODY_ROUTES.flatMap(([method, path]): Case[] => [
  { title: 'text/plain', method, path, request: raw('{"name":"x"}', 'text/plain'), status: 415 },
  {
    title: 'a form body',
    method,
    path,
    request: raw('name=x&price=1', 'application/x-www-form-urlencoded'),
    status: 415,
  },
  {
    title: 'JSON in an unreadable charset',
    method,
    path,
    request: raw('{}', 'application/json; charset=koi8-r'),
    status: 415,
  },
  { title: 'a JSON scalar at the top level', method, path, request: raw('42'), status: 400 },
  { title: 'JSON null at the top level', method, path, request: raw('null'), status: 400 },
  { title: 'a JSON array', method, path, request: json([]), status: 422, paths: ['body'] },
  {
    title: 'extra fields (owner_id, id, created_at)',
    method,
    path,
    request: product({ owner_id: 1, id: 1, created_at: '2020-01-01T00:00:00Z' }),
    status: 422,
    paths: ['body.owner_id', 'body.id', 'body.created_at'],
  },
  {
    title: 'a 256-character name',
    method,
    path,
    request: product({ name: 'n'.repeat(256) }),
    status: 422,
    paths: ['body.name'],
  },
  {
    title: 'a 1001-character description',
    method,
    path,
    request: product({ description: 'd'.repeat(1001) }),
    status: 422,
    paths: ['body.description'],
  },
  { title: 'a blank name', method, path, request: product({ name: '   ' }), status: 422, paths: ['body.name'] },
  {
    title: 'a name with a NUL',
    method,
    path,
    request: product({ name: 'Tea\u0000pot' }),
    status: 422,
    paths: ['body.name'],
  },
  {
    title: 'a name with a bell',
    method,
    path,
    request: product({ name: 'Tea\u0007pot' }),
    status: 422,
    paths: ['body.name'],
  },
  {
    title: 'a name with a line break inside',
    method,
    path,
    request: product({ name: 'Tea\npot' }),
    status: 422,
    paths: ['body.name'],
  },
  {
    title: 'a name with a lone surrogate',
    method,
    path,
    request: product({ name: 'Tea\ud800pot' }),
    status: 422,
    paths: ['body.name'],
  },
  {
    title: 'a description with a NUL',
    method,
    path,
    request: product({ description: 'a\u0000b' }),
    status: 422,
    paths: ['body.description'],
  },
  {
    title: 'a description with an escape',
    method,
    path,
    request: product({ description: 'a\u001b[31m' }),
    status: 422,
    paths: ['body.description'],
  },
  {
    title: 'name, price and quantity as wrong types',
    method,
    path,
    request: product({ name: 5, price: '12.50', quantity: '3' }),
    status: 422,
    paths: ['body.name', 'body.price', 'body.quantity'],
  },
  {
    title: 'price and quantity as booleans and objects',
    method,
    path,
    request: product({ price: true, quantity: {} }),
    status: 422,
    paths: ['body.price', 'body.quantity'],
  },
  {
    title: 'nulls for name, price and quantity',
    method,
    path,
    request: product({ name: null, price: null, quantity: null }),
    status: 422,
    paths: ['body.name', 'body.price', 'body.quantity'],
  },
  {
    title: 'a description that is a number',
    method,
    path,
    request: product({ description: 5 }),
    status: 422,
    paths: ['body.description'],
  },
  {
    title: 'price 1e999 (raw JSON)',
    method,
    path,
    request: raw('{"name":"Inf","price":1e999,"quantity":1}'),
    status: 422,
    paths: ['body.price'],
  },
  {
    title: 'quantity 1e999 (raw JSON)',
    method,
    path,
    request: raw('{"name":"Inf","price":1,"quantity":1e999}'),
    status: 422,
    paths: ['body.quantity'],
  },
  {
    title: 'price -0 (raw JSON)',
    method,
    path,
    request: raw('{"name":"Zero","price":-0,"quantity":1}'),
    status: 422,
    paths: ['body.price'],
  },
  { title: 'a huge price', method, path, request: product({ price: 1e308 }), status: 422, paths: ['body.price'] },
  {
    title: 'a price over 9 999 999 999.99',
    method,
    path,
    request: product({ price: 10_000_000_000 }),
    status: 422,
    paths: ['body.price'],
  },
  {
    title: 'a price of 3 decimals',
    method,
    path,
    request: product({ price: 0.001 }),
    status: 422,
    paths: ['body.price'],
  },
  {
    title: 'the smallest double as price',
    method,
    path,
    request: product({ price: 5e-324 }),
    status: 422,
    paths: ['body.price'],
  },
  {
    title: 'a quantity over 2^31-1',
    method,
    path,
    request: product({ quantity: 2_147_483_648 }),
    status: 422,
    paths: ['body.quantity'],
  },
  {
    title: 'a quantity beyond 2^53',
    method,
    path,
    request: raw('{"name":"Big","price":1,"quantity":99999999999999999999}'),
    status: 422,
    paths: ['body.quantity'],
  },
  {
    title: 'a negative quantity',
    method,
    path,
    request: product({ quantity: -1 }),
    status: 422,
    paths: ['body.quantity'],
  },
  {
    title: 'a constructor key',
    method,
    path,
    request: raw('{"name":"C","price":1,"quantity":1,"constructor":{"prototype":{"x":1}}}'),
    status: 422,
    paths: ['body.constructor'],
  },
]);

const create: Case[] = [
  {
    title: 'no fields',
    method: 'POST',
    path: '/products',
    request: json({}),
    status: 422,
    paths: ['body.name', 'body.price', 'body.quantity'],
  },
  {
    title: 'a 255-character name',
    method: 'POST',
    path: '/products',
    request: product({ name: 'n'.repeat(255) }),
    status: 201,
    stores: { name: 'n'.repeat(255) },
  },
  {
    title: 'a 1000-character description',
    method: 'POST',
    path: '/products',
    request: product({ description: 'd'.repeat(1000) }),
    status: 201,
    stores: { description: 'd'.repeat(1000) },
  },
  {
    title: 'a 1-character name',
    method: 'POST',
    path: '/products',
    request: product({ name: 'x' }),
    status: 201,
    stores: { name: 'x' },
  },
  {
    title: 'an SQL payload as name, stored verbatim',
    method: 'POST',
    path: '/products',
    request: product({ name: "Robert'); DROP TABLE products;--" }),
    status: 201,
    stores: { name: "Robert'); DROP TABLE products;--" },
  },
  {
    title: 'an SQL payload as description, stored verbatim',
    method: 'POST',
    path: '/products',
    request: product({ description: "1' OR '1'='1'; --" }),
    status: 201,
    stores: { description: "1' OR '1'='1'; --" },
  },
  {
    title: 'a script as name, stored verbatim',
    method: 'POST',
    path: '/products',
    request: product({ name: '<script>alert(1)</script>' }),
    status: 201,
    stores: { name: '<script>alert(1)</script>' },
  },
  {
    title: 'Unicode beyond the BMP, stored verbatim',
    method: 'POST',
    path: '/products',
    request: product({ name: '日本語 ✓ 😀 Ω', description: 'Ünïcödé — “quotes” 🍵' }),
    status: 201,
    stores: { name: '日本語 ✓ 😀 Ω', description: 'Ünïcödé — “quotes” 🍵' },
  },
  {
    title: 'a right-to-left override in the name, stored verbatim',
    method: 'POST',
    path: '/products',
    request: product({ name: 'abc\u202egnp.exe' }),
    status: 201,
    stores: { name: 'abc\u202egnp.exe' },
  },
  {
    title: 'tabs and line breaks in the description',
    method: 'POST',
    path: '/products',
    request: product({ description: 'Line 1\r\n\tLine 2' }),
    status: 201,
    stores: { description: 'Line 1\r\n\tLine 2' },
  },
  {
    title: 'quantity -0 (raw JSON), stored as 0',
    method: 'POST',
    path: '/products',
    request: raw('{"name":"Minus zero","price":1,"quantity":-0}'),
    status: 201,
    stores: { name: 'Minus zero', quantity: 0 },
  },
  {
    title: 'a null description',
    method: 'POST',
    path: '/products',
    request: product({ name: 'No description', description: null }),
    status: 201,
    stores: { name: 'No description', description: null },
  },
];

const update: Case[] = (['PUT', 'PATCH'] as const).flatMap((method): Case[] => [
  { title: 'an empty object', method, path: '/products/{id}', request: json({}), status: 422, paths: ['body'] },
  {
    title: 'a null name',
    method,
    path: '/products/{id}',
    request: json({ name: null }),
    status: 422,
    paths: ['body.name'],
  },
  {
    title: 'a null price',
    method,
    path: '/products/{id}',
    request: json({ price: null }),
    status: 422,
    paths: ['body.price'],
  },
  {
    title: 'an owner_id (no transfer of ownership)',
    method,
    path: '/products/{id}',
    request: json({ owner_id: 1 }),
    status: 422,
    paths: ['body.owner_id'],
  },
  {
    title: 'an id of 99999999999999999999',
    method,
    path: '/products/99999999999999999999',
    request: json({ name: 'x' }),
    status: 422,
    paths: ['params.id'],
  },
  {
    title: 'an id of 0 and a bad price together',
    method,
    path: '/products/0',
    request: json({ price: -1 }),
    status: 422,
    paths: ['params.id', 'body.price'],
  },
  {
    title: 'an id written as 1e0',
    method,
    path: '/products/1e0',
    request: json({ name: 'x' }),
    status: 422,
    paths: ['params.id'],
  },
  {
    title: 'an id that is not valid percent-encoding',
    method,
    path: '/products/%',
    request: json({ name: 'x' }),
    status: 400,
  },
  {
    title: 'an id that does not exist',
    method,
    path: '/products/2147483647',
    request: json({ name: 'x' }),
    status: 404,
  },
  { title: 'no token', method, path: '/products/{id}', request: json({ name: 'x' }), anonymous: true, status: 401 },
]);

const remove: Case[] = [
  {
    title: 'an id of 99999999999999999999',
    method: 'DELETE',
    path: '/products/99999999999999999999',
    status: 422,
    paths: ['params.id'],
  },
  { title: 'an id of -1', method: 'DELETE', path: '/products/-1', status: 422, paths: ['params.id'] },
  { title: 'an id of abc', method: 'DELETE', path: '/products/abc', status: 422, paths: ['params.id'] },
  { title: 'an id with a space', method: 'DELETE', path: '/products/%201', status: 422, paths: ['params.id'] },
  { title: 'an id that is not valid percent-encoding', method: 'DELETE', path: '/products/%E0%A4%A', status: 400 },
  { title: 'no token', method: 'DELETE', path: '/products/{id}', anonymous: true, status: 401 },
];

const tokens: Case[] = (['POST', 'PUT', 'PATCH', 'DELETE'] as const).flatMap((method): Case[] => {
  const path = method === 'POST' ? '/products' : '/products/{id}';
  const body = method === 'DELETE' ? {} : product({ name: 'Forged' });
  return [
    ['a Basic credential', 'Basic dXNlcjpwYXNz'],
    ['an empty bearer token', 'Bearer '],
    ['a bearer token with spaces and quotes', 'Bearer "a b"'],
    ['a 10 kB bearer token', `Bearer ${'a'.repeat(10_240)}`],
    ['two bearer tokens', 'Bearer a.b.c, Bearer d.e.f'],
  ].map(([title, authorization]) => ({
    title: `${title!} in Authorization`,
    method,
    path,
    request: { ...body, headers: { ...body.headers, authorization: authorization! } },
    anonymous: true,
    status: 401,
  }));
});

const reads: Case[] = [
  ...[
    ['skip=-1', ['query.skip']],
    ['limit=0', ['query.limit']],
    ['limit=101', ['query.limit']],
    ['limit=abc', ['query.limit']],
    ['skip=1e3', ['query.skip']],
    ['limit=1&limit=2', ['query.limit']],
    ['skip=', ['query.skip']],
    ['limit=1.5', ['query.limit']],
    ['limit=+5', ['query.limit']],
    ['skip=0x10', ['query.skip']],
    ['limit=%zz', ['query.limit']],
    ['skip=99999999999999999999', ['query.skip']],
    ['skip=-1&limit=0', ['query.skip', 'query.limit']],
  ].map(([query, paths]): Case => ({
    title: `?${String(query)}`,
    method: 'GET',
    path: `/products?${String(query)}`,
    status: 422,
    paths: paths as string[],
  })),
  ...['abc', '0', '-1', '-0', '1.5', '1e0', '%201', '2147483648', '99999999999999999999'].map((id): Case => ({
    title: `id ${id}`,
    method: 'GET',
    path: `/products/${id}`,
    status: 422,
    paths: ['params.id'],
  })),
  { title: 'an id that is not valid percent-encoding', method: 'GET', path: '/products/%', status: 400 },
  { title: 'an unknown query parameter (ignored)', method: 'GET', path: '/products?colour=red&limit=1', status: 200 },
];

/** `/docs` redirects to `/docs/`, where Swagger UI's files are. */
const OK_STATUSES: Record<string, number> = {
  '/health': 200,
  '/health/live': 200,
  '/metrics': 200,
  '/openapi.json': 200,
  '/docs': 301,
};

for (const c of [...everyRoute, ...everyBodyRoute, ...create, ...update, ...remove, ...tokens, ...reads]) {
  test.serial(`${c.method} ${c.path} → ${c.status} for ${c.title}`, async (t) => {
    const path = c.path.replace('{id}', String(target!.id));
    const isWrite = c.method !== 'GET';
    const request = { ...(isWrite && !c.anonymous ? { token: ownerToken() } : {}), ...c.request };
    const before = await snapshot();

    const response = await call<PublicProduct>(ctx.service.baseUrl, c.method, path, request);

    t.true(response.status < 500, `${response.status} ${response.text}`);
    t.notRegex(response.text, INTERNALS);
    const after = await snapshot();
    if (c.status >= 400) {
      const problem = expectProblem(t, response, c.status, c.paths);
      if (c.paths) t.is(problem.type, 'urn:problem-type:validation-failed');
      if (c.status === 401) t.is(response.headers.get('www-authenticate'), 'Bearer');
      t.deepEqual(after, before, 'a rejected request changed the products table');
      return;
    }
    t.is(response.status, c.status, response.text);
    if (c.stores) {
      t.is(after.length, before.length + 1);
      const stored = after.find((row) => row.id === response.body.id);
      t.like(stored, { ...c.stores, owner_id: ownerId });
      t.like(response.body, c.stores);
      // Stored text comes back as JSON with markup characters escaped, never as live markup.
      t.false(response.text.includes('<script>'));
    } else {
      t.deepEqual(after, before);
    }
  });
}

test.serial('GET and DELETE ignore a body they do not read, in any other media type', async (t) => {
  for (const [path, status] of Object.entries(OK_STATUSES)) {
    const response = await call(ctx.service.baseUrl, 'GET', path, {
      raw: 'anything',
      headers: { 'content-type': 'text/plain' },
    });
    t.is(response.status, status, path);
  }
  const row = await insertProduct(ctx.db, { ownerId });
  const deleted = await call(ctx.service.baseUrl, 'DELETE', `/products/${row.id}`, {
    token: ownerToken(),
    raw: 'anything',
    headers: { 'content-type': 'text/plain' },
  });
  t.is(deleted.status, 204);
});

test.serial('a stored script is returned escaped inside JSON (\\u003c…), and reads back verbatim', async (t) => {
  const name = '<img src=x onerror=alert(1)>&';
  const created = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
    token: ownerToken(),
    json: productInput({ name }),
  });
  const read = await call<PublicProduct>(ctx.service.baseUrl, 'GET', `/products/${created.body.id}`);

  t.is(created.status, 201);
  t.is(read.body.name, name);
  t.false(read.text.includes('<img'));
  t.true(read.text.includes('\\u003cimg src=x onerror=alert(1)\\u003e\\u0026'));
  t.is(read.headers.get('content-type'), 'application/json; charset=utf-8');
  t.is(read.headers.get('x-content-type-options'), 'nosniff');
  t.is((await ctx.db.productRow(created.body.id))?.name, name);
});

test.serial('a `__proto__` key is dropped, never merged into the product', async (t) => {
  const before = (await snapshot()).length;
  const response = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
    token: ownerToken(),
    raw: '{"__proto__":{"owner_id":1,"price":5},"name":"Proto","quantity":1}',
    headers: { 'content-type': 'application/json' },
  });

  expectProblem(t, response, 422, ['body.price']);
  t.is((await snapshot()).length, before);
});
