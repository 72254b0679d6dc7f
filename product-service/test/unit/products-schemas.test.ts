import test from 'ava';

import { priceToDecimal, priceToNumber, toProductChanges } from '../../src/api/products.presenter';
import {
  createProductBodySchema,
  listProductsQuerySchema,
  productIdParamsSchema,
  updateProductBodySchema,
} from '../../src/api/products.schemas';
import { parse } from '../../src/api/validation';
import { ValidationError } from '../../src/errors';

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
