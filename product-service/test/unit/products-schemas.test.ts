import { isDeepStrictEqual } from 'node:util';

import test from 'ava';
import fc from 'fast-check';

import { ValidationError } from '@shop/shared-runtime';
import { parse } from '@shop/shared-runtime/http';

import { priceToDecimal, priceToNumber, toProductChanges } from '../../src/api/products.presenter';
import {
  createProductBodySchema,
  listProductsQuerySchema,
  MAX_INT4,
  plainlyValidProductBody,
  productIdParamsSchema,
  updateProductBodySchema,
} from '../../src/api/products.schemas';

const validBody = { name: 'Cup', description: null, price: 4.5, quantity: 1 };

const failures = (run: () => unknown) => {
  const error = (() => {
    try {
      run();
      return undefined;
    } catch (caught) {
      return caught;
    }
  })();
  if (!(error instanceof ValidationError)) throw new Error('expected a ValidationError');
  return (error.errors ?? []).map((field) => [field.path, field.type]);
};

test('price → every cent value up to 1 000.00 survives number → NUMERIC text → number exactly', (t) => {
  for (let cents = 1; cents <= 100_000; cents += 1) {
    const text = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
    const price = Number(text);
    if (priceToDecimal(price) !== text || priceToNumber(text) !== price) {
      t.fail(`${text} did not round-trip`);
      return;
    }
  }
  t.pass();
});

test('price → large values and the maximum round-trip exactly', (t) => {
  for (const text of ['9999999999.99', '1234567890.12', '5000000000.05', '99999999.99', '0.01']) {
    const price = Number(text);
    t.is(priceToDecimal(price), text);
    t.is(priceToNumber(text), price);
    t.is(JSON.stringify({ price: priceToNumber(text) }), `{"price":${text.replace(/\.?0+$/, '')}}`);
  }
});

test('price → accepted: JSON numbers > 0 with at most 2 decimals, up to 9999999999.99', (t) => {
  for (const price of [0.01, 0.3, 1, 19.99, 100.1, 9999999999.99]) {
    t.is(parse(createProductBodySchema, { ...validBody, price }, 'body').price, price);
  }
});

test('price → refused: more decimals, float artefacts, 0, negative, too large, strings', (t) => {
  const cases: [unknown, string][] = [
    [1.234, 'number.precision'],
    [0.1 + 0.2, 'number.precision'],
    [0, 'number.greater'],
    [-0.01, 'number.greater'],
    [10_000_000_000, 'number.max'],
    ['12.50', 'number.base'],
    [null, 'number.base'],
  ];
  for (const [price, type] of cases) {
    t.deepEqual(
      failures(() => parse(createProductBodySchema, { ...validBody, price }, 'body')),
      [['body.price', type]],
      `price ${String(price)}`,
    );
  }
});

test('name → trimmed, 1–255 characters after trimming', (t) => {
  t.is(parse(createProductBodySchema, { ...validBody, name: '  Cup \t' }, 'body').name, 'Cup');
  t.is(parse(createProductBodySchema, { ...validBody, name: ` ${'n'.repeat(255)} ` }, 'body').name.length, 255);
  t.deepEqual(
    failures(() => parse(createProductBodySchema, { ...validBody, name: ' \n ' }, 'body')),
    [['body.name', 'string.empty']],
  );
  t.deepEqual(
    failures(() => parse(createProductBodySchema, { ...validBody, name: 'n'.repeat(256) }, 'body')),
    [['body.name', 'string.max']],
  );
});

test('create body → every failing field is listed, unknown fields included', (t) => {
  t.deepEqual(
    failures(() => parse(createProductBodySchema, { name: '', price: 0, quantity: -1, extra: true }, 'body')).sort(),
    [
      ['body.extra', 'object.unknown'],
      ['body.name', 'string.empty'],
      ['body.price', 'number.greater'],
      ['body.quantity', 'number.min'],
    ],
  );
});

test('create body → description defaults to null and may be empty', (t) => {
  t.is(parse(createProductBodySchema, { name: 'a', price: 1, quantity: 0 }, 'body').description, null);
  t.is(parse(createProductBodySchema, { ...validBody, description: '' }, 'body').description, '');
});

test('update body → any non-empty subset; empty is refused; only sent fields become changes', (t) => {
  const body = parse(updateProductBodySchema, { price: 2.5 }, 'body');
  t.deepEqual(toProductChanges(body), { price: '2.50' });
  t.deepEqual(toProductChanges(parse(updateProductBodySchema, { description: null }, 'body')), { description: null });
  t.deepEqual(
    failures(() => parse(updateProductBodySchema, {}, 'body')),
    [['body', 'object.min']],
  );
  t.deepEqual(
    failures(() => parse(updateProductBodySchema, undefined, 'body')),
    [['body', 'object.min']],
  );
});

test('list query → defaults skip 0 and limit 100; strings converted; bounds enforced', (t) => {
  t.like(parse(listProductsQuerySchema, {}, 'query'), { skip: 0, limit: 100 });
  t.like(parse(listProductsQuerySchema, { skip: '5', limit: '1' }, 'query'), { skip: 5, limit: 1 });
  t.deepEqual(
    failures(() => parse(listProductsQuerySchema, { skip: '-1', limit: '0' }, 'query')),
    [
      ['query.skip', 'number.min'],
      ['query.limit', 'number.min'],
    ],
  );
});

test('id → a positive integer that fits PostgreSQL integer', (t) => {
  t.is(parse(productIdParamsSchema, { id: '2147483647' }, 'params').id, 2_147_483_647);
  for (const id of ['0', '-3', '2147483648', '1.5', 'abc', '99999999999999999999']) {
    t.is(failures(() => parse(productIdParamsSchema, { id }, 'params'))[0]?.[0], 'params.id', `id ${id}`);
  }
});

/** What Joi makes of a create body: its value, or undefined when it refuses it. */
function joiCreateBody(body: unknown): unknown {
  const result = createProductBodySchema.validate(body ?? {}, { abortEarly: false, convert: false });
  return result.error ? undefined : result.value;
}

const nearlyText = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom(
    '',
    ' ',
    ' Cup ',
    '\t',
    'a\nb',
    'a\u0000b',
    '\ud800',
    'x'.repeat(255),
    ` ${'x'.repeat(255)} `,
    'x'.repeat(256),
    'y'.repeat(1000),
    'y'.repeat(1001),
    '\u00a0Cup\ufeff',
  ),
);
const nearlyNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.integer({ min: 1, max: 1_000_000 }).map((cents) => cents / 100),
  fc.constantFrom(
    0,
    -0,
    0.001,
    1e-7,
    1e21,
    0.1 + 0.2,
    9_999_999_999.99,
    10_000_000_000,
    MAX_INT4,
    MAX_INT4 + 1,
    -1,
    2.5,
  ),
);
const nearlyField = fc.oneof(
  nearlyText,
  nearlyNumber,
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.array(fc.nat(), { maxLength: 1 }),
);
/** Bodies valid but for (at most) one field, where a wrong boundary in the fast path shows. */
const oneFieldOff = fc.record({
  name: fc.oneof(fc.constantFrom('Cup', ' Cup '), nearlyText),
  description: fc.oneof(fc.constant(null), nearlyText),
  price: fc.oneof(
    fc.integer({ min: 1, max: 1_000_000 }).map((cents) => cents / 100),
    nearlyNumber,
  ),
  quantity: fc.oneof(fc.nat(), nearlyNumber),
});

const nearlyBody = fc.oneof(
  oneFieldOff,
  fc.record(
    {
      name: nearlyText,
      description: fc.oneof(nearlyText, fc.constant(null)),
      price: nearlyNumber,
      quantity: nearlyNumber,
    },
    { requiredKeys: [] },
  ),
  fc.record(
    { name: nearlyField, description: nearlyField, price: nearlyField, quantity: nearlyField },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.constantFrom('name', 'price', 'quantity', 'description', 'extra', '__proto__'), nearlyField),
  fc.oneof(fc.constant(null), fc.array(fc.nat()), fc.string(), fc.integer()),
);

test('plainlyValidProductBody → whatever it accepts, the Joi schema accepts with the same value', (t) => {
  fc.assert(
    fc.property(nearlyBody, (body) => {
      const fast = plainlyValidProductBody(body);
      if (fast === undefined) return true;
      const joi = joiCreateBody(body);
      return joi !== undefined && isDeepStrictEqual(joi, fast);
    }),
    { numRuns: 20_000 },
  );
  t.pass();
});

test('plainlyValidProductBody → takes the bodies clients send, so the fast path is the common one', (t) => {
  const bodies = [
    validBody,
    { name: '  Benchmark widget ', description: 'Created by npm run bench', price: 19.99, quantity: 3 },
    { name: 'Cup', price: 9_999_999_999.99, quantity: MAX_INT4 },
    { name: 'Tabs only below', description: 'line\nbreak\r\n', price: 0.01, quantity: 0 },
  ];
  for (const body of bodies) {
    const fast = plainlyValidProductBody(body);
    t.not(fast, undefined, JSON.stringify(body));
    t.deepEqual(fast, joiCreateBody(body));
  }
  t.is(plainlyValidProductBody({ ...validBody, price: '4.50' }), undefined);
  t.is(plainlyValidProductBody({ ...validBody, extra: 1 }), undefined);
  t.is(plainlyValidProductBody({ ...validBody, name: '   ' }), undefined);
});
