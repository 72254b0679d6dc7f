import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { QueryTypes } from 'sequelize';

import { PROBLEM_CONTENT_TYPE, problemDetailsSchema, validateMessage } from '@shop/shared-contracts';

import { type ApiResponse, call, type CallOptions, INTERNALS } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { insertProduct, newUserId } from '../helpers/factories';
import type { ProductRow } from '../helpers/product-service';
import { useProductService } from '../helpers/use-product-service';

// Generated bodies thrown at every write endpoint: never a 5xx, always problem+json on a 4xx,
// and the products table unchanged by every rejected request; a success stores exactly what it
// answers. Serial: each run compares the whole table.
const ctx = useProductService();

/** Generated bodies per endpoint: all of them, however long a slow machine takes (no time limit). */
const RUNS = { numRuns: 200 } as const;

const snapshot = () =>
  ctx.db.sequelize.query<ProductRow>('SELECT * FROM products ORDER BY id', { type: QueryTypes.SELECT });

const KEYS = ['name', 'description', 'price', 'quantity', 'owner_id', 'id', '__proto__', 'constructor'];

const edgeNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 0.01, 0.1 + 0.2, 9_999_999_999.99, 10_000_000_000, 2_147_483_647, 2_147_483_648, 5e-324),
  fc.integer({ min: 1, max: 99_999_999 }).map((cents) => cents / 100),
);

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('a', ' ', "'", '"', '\\', '<', '>', '&', '\u0000', '\n', '\ud800', '😀', '\u202e'),
    maxLength: 30,
  }),
  fc.constantFrom('', '   ', 'n'.repeat(255), 'n'.repeat(256), 'd'.repeat(1000), 'd'.repeat(1001)),
);

const anyValue = fc.oneof(
  text,
  edgeNumber,
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);

/** Product-like bodies: each field right, wrong or absent, now and then an extra key. */
const productLike = fc.record(
  {
    name: fc.oneof(text, anyValue),
    description: fc.oneof(text, fc.constant(null), anyValue),
    price: fc.oneof({ weight: 3, arbitrary: edgeNumber }, { weight: 1, arbitrary: anyValue }),
    quantity: fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: -5, max: 3_000_000_000 }) },
      { weight: 1, arbitrary: anyValue },
    ),
  },
  { requiredKeys: [] },
);

/** A valid product with at most one field made wrong or left out, so successes happen too. */
const nearlyValid = fc
  .tuple(
    fc.record({
      name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).filter((name) => name.trim() !== ''),
      description: fc.oneof(fc.constant(null), fc.string({ unit: 'grapheme', maxLength: 100 })),
      price: fc.integer({ min: 1, max: 999_999_999_999 }).map((cents) => cents / 100),
      quantity: fc.integer({ min: 0, max: 2_147_483_647 }),
    }),
    fc.option(fc.tuple(fc.constantFrom(...KEYS), fc.option(anyValue, { nil: undefined })), { freq: 2 }),
  )
  .map(([valid, change]): Record<string, unknown> => {
    if (change === null) return valid;
    const [key, value] = change;
    const entries: [string, unknown][] = Object.entries(valid).filter(([name]) => name !== key);
    if (value !== undefined) entries.push([key, value]);
    return Object.fromEntries(entries);
  });

const body = fc.oneof(
  { weight: 3, arbitrary: nearlyValid },
  { weight: 3, arbitrary: productLike },
  {
    weight: 1,
    arbitrary: fc
      .tuple(productLike, fc.constantFrom(...KEYS), anyValue)
      .map(([base, key, value]) => ({ ...base, [key]: value })),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

const request: fc.Arbitrary<CallOptions> = fc.oneof(
  { weight: 4, arbitrary: body.map((value) => ({ json: value })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(productLike, fc.constantFrom('1e999', '-0', '99999999999999999999', '1e-999', '-1e308'))
      .map(([base, number]) => ({
        raw: JSON.stringify(base).replace(/^\{/, `{"price":${number},"quantity":${number},`).replace(/,\}$/, '}'),
        headers: { 'content-type': 'application/json' },
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('text/plain', 'application/json', 'application/merge-patch+json'),
        fc.string({ unit: 'binary', maxLength: 60 }),
      )
      .map(([contentType, raw]) => ({ raw: raw, headers: { 'content-type': contentType } })),
  },
);

function assertWellFormed(t: ExecutionContext, response: ApiResponse, allowed: number[]): void {
  if (response.status >= 500 || !allowed.includes(response.status)) {
    throw new Error(`unexpected ${response.status}: ${response.text}`);
  }
  if (response.status >= 400) {
    if (response.headers.get('content-type') !== `${PROBLEM_CONTENT_TYPE}; charset=utf-8`) {
      throw new Error(`a ${response.status} that is not problem+json: ${response.text}`);
    }
    if (!validateMessage(problemDetailsSchema, response.body).ok) throw new Error(`not a problem: ${response.text}`);
  }
  if (INTERNALS.test(response.text)) throw new Error(`internals in the response: ${response.text}`);
  t.pass();
}

/** The stored row as the API would show it. */
function asPublic(row: ProductRow): Omit<PublicProduct, 'created_at' | 'updated_at'> {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    price: Number(row.price),
    quantity: row.quantity,
    owner_id: row.owner_id,
  };
}

for (const method of ['POST', 'PUT', 'PATCH'] as const) {
  test.serial(
    `${method} /products → generated bodies: never a 5xx, problem+json on every 4xx, nothing changed on rejection`,
    async (t) => {
      const ownerId = newUserId();
      const token = ctx.responder.tokenFor({ reply: 'valid', userId: ownerId });
      const target = await insertProduct(ctx.db, { ownerId });
      const path = method === 'POST' ? '/products' : `/products/${target.id}`;
      const statuses = new Map<number, number>();

      await fc.assert(
        fc.asyncProperty(request, async (options) => {
          const before = await snapshot();
          const response = await call<PublicProduct>(ctx.service.baseUrl, method, path, { ...options, token });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          assertWellFormed(t, response, method === 'POST' ? [201, 400, 415, 422] : [200, 400, 415, 422]);
          const after = await snapshot();
          if (response.status >= 400) {
            t.deepEqual(after, before);
            return;
          }
          const stored = after.find((row) => row.id === response.body.id);
          if (!stored) throw new Error('a success stored nothing');
          t.like(response.body, asPublic(stored));
          t.is(after.length, before.length + (method === 'POST' ? 1 : 0));
          t.deepEqual(
            after.filter((row) => row.id !== stored.id),
            before.filter((row) => row.id !== stored.id),
            'a write touched another row',
          );
        }),
        RUNS,
      );
      const runs = [...statuses.values()].reduce((sum, count) => sum + count, 0);
      t.is(runs, RUNS.numRuns, 'every generated body was sent');
      t.log(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
    },
  );
}
