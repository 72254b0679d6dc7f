import test from 'ava';

import { call } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { insertProduct } from '../helpers/factories';
import type { ProductRow } from '../helpers/product-service';
import { useProductService } from '../helpers/use-product-service';

// This file's database holds only the rows made here, so totals are exact.
const ctx = useProductService();
let rows: ProductRow[] = [];

test.serial.before(async () => {
  // 105 rows: one more page than the default limit of 100 shows.
  for (let index = 0; index < 105; index += 1) rows.push(await insertProduct(ctx.db));
  rows = rows.sort((a, b) => a.id - b.id);
});

const ids = (products: PublicProduct[]) => products.map((product) => product.id);

test('GET /products → the first 100 by id by default, X-Total-Count is the whole table', async (t) => {
  const response = await call<PublicProduct[]>(ctx.service.baseUrl, 'GET', '/products');

  t.is(response.status, 200);
  t.is(response.headers.get('x-total-count'), '105');
  t.deepEqual(
    ids(response.body),
    rows.slice(0, 100).map((row) => row.id),
  );
});

test('GET /products?skip&limit → that window, ordered by id', async (t) => {
  const response = await call<PublicProduct[]>(ctx.service.baseUrl, 'GET', '/products?skip=10&limit=5');

  t.is(response.status, 200);
  t.is(response.headers.get('x-total-count'), '105');
  t.deepEqual(
    ids(response.body),
    rows.slice(10, 15).map((row) => row.id),
  );
});

test('GET /products → the last page is short and a page past the end is empty', async (t) => {
  const last = await call<PublicProduct[]>(ctx.service.baseUrl, 'GET', '/products?skip=100&limit=100');
  const past = await call<PublicProduct[]>(ctx.service.baseUrl, 'GET', '/products?skip=500');

  t.deepEqual(
    ids(last.body),
    rows.slice(100).map((row) => row.id),
  );
  t.deepEqual(past.body, []);
  t.is(past.headers.get('x-total-count'), '105');
});

test('GET /products?limit=1 and limit=100 → the bounds are accepted', async (t) => {
  const one = await call<PublicProduct[]>(ctx.service.baseUrl, 'GET', '/products?limit=1');
  const hundred = await call<PublicProduct[]>(ctx.service.baseUrl, 'GET', '/products?limit=100&skip=0');

  t.deepEqual(ids(one.body), [rows[0]!.id]);
  t.is(hundred.body.length, 100);
});

test('GET /products?limit=101 → 422 and ?skip=-1 → 422', async (t) => {
  const tooMany = await call(ctx.service.baseUrl, 'GET', '/products?limit=101');
  const negative = await call(ctx.service.baseUrl, 'GET', '/products?skip=-1');

  t.is(tooMany.status, 422);
  t.is(negative.status, 422);
});
