import { randomUUID } from 'node:crypto';

import test from 'ava';
import fc from 'fast-check';
import type Joi from 'joi';

import { EVENT_SCHEMAS, EVENT_TYPES, validateEvent, validateMessage, type DomainEvent, type EventType } from '../src';

import { nearInstant } from './arbitraries';
import { isPlainProductEvent } from '../src/validate-event';

// The fast path must never accept what the schema refuses, nor publish anything else than the
// schema's value: the arbitraries stay near the shape product-service writes, where a shortcut
// would most likely differ.

const PRODUCT_TYPES = [EVENT_TYPES.productCreated, EVENT_TYPES.productUpdated, EVENT_TYPES.productDeleted] as const;
const ALL_TYPES = Object.values(EVENT_TYPES);
const EVENT_TYPE_VALUES: string[] = ALL_TYPES;

const id = fc.oneof(
  fc.integer({ min: 1, max: 2 ** 31 }),
  fc.constantFrom(0, -1, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, '7', null),
);
const amount = fc.oneof(
  fc.integer({ min: 0, max: 1_000_000 }).map((cents) => cents / 100),
  fc.double(),
  fc.constantFrom(0, -0, -1, 2 ** 53, 2 ** 60, '1.00', null),
);
const text = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('', 'x'.repeat(200), 'x'.repeat(201)),
  fc.constant(null),
  fc.integer(),
);
const uuid = fc.oneof(
  fc.constant(null).map(() => randomUUID()),
  fc.uuid(),
  fc.constantFrom(
    '0f8fad5b-d9cb-469f-a165-70867728950e'.toUpperCase(),
    '{0f8fad5b-d9cb-469f-a165-70867728950e}',
    'not-a-uuid',
  ),
);
const product = fc.record(
  {
    id,
    name: text,
    description: text,
    price: amount,
    quantity: amount,
    owner_id: id,
    created_at: nearInstant,
    updated_at: nearInstant,
  },
  { requiredKeys: ['id', 'name', 'description', 'price', 'quantity', 'owner_id', 'created_at'] },
);
const event = fc.record(
  {
    id: uuid,
    type: fc.constantFrom(...ALL_TYPES, 'product.renamed'),
    version: fc.constantFrom(1, 2, '1'),
    occurred_at: nearInstant,
    request_id: text,
    data: fc.oneof(
      fc.record({ product, actor_id: id }),
      fc.record({ product, actor_id: id, version: id }),
      fc.record({ product, actor_id: id, extra: fc.boolean() }),
      fc.record({ jti: fc.string(), user_id: id, exp: id }),
    ),
  },
  { requiredKeys: ['id', 'type', 'occurred_at', 'data'] },
);
const withExtraKey = event.map((value) => ({ ...value, extra: 1 }));

/** A valid product event as product-service writes it. */
const validEvent = fc
  .record({
    id: fc.constant(null).map(() => randomUUID()),
    type: fc.constantFrom(...PRODUCT_TYPES),
    occurred_at: fc
      .date({ min: new Date(0), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    request_id: fc.oneof(fc.constant(null), fc.string({ minLength: 1, maxLength: 8 })),
    productId: fc.integer({ min: 1, max: 2 ** 31 }),
    productVersion: fc.integer({ min: 1, max: 2 ** 31 }),
    price: fc.integer({ min: 0, max: 1_000_000 }).map((cents) => cents / 100),
    quantity: fc.nat(),
  })
  .map((v) => ({
    id: v.id,
    type: v.type,
    version: 1,
    occurred_at: v.occurred_at,
    request_id: v.request_id,
    data: {
      product: {
        id: v.productId,
        name: 'Cup',
        description: null,
        price: v.price,
        quantity: v.quantity,
        owner_id: 3,
        created_at: v.occurred_at,
        updated_at: v.occurred_at,
      },
      actor_id: 3,
      version: v.productVersion,
    },
  }));

/** Near values: just inside and just outside each rule of the schema. */
const near = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    1,
    1.5,
    0.01,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    2 ** 60,
    '',
    'x',
    '1',
    null,
    undefined,
    true,
    [],
    {},
  ),
  fc.constantFrom('x'.repeat(200), 'x'.repeat(201), '2026-02-30T00:00:00.000Z', '2026-11-24T10:00:00Z', 'not-a-uuid'),
  fc.constantFrom(...EVENT_TYPE_VALUES, 'product.renamed'),
  id,
  amount,
  text,
  nearInstant,
  uuid,
);

/** Every place one field can be set: the envelope, the data, the product, or an extra key at each level. */
const FIELD_PATHS = [
  ['id'],
  ['type'],
  ['version'],
  ['occurred_at'],
  ['request_id'],
  ['data'],
  ['extra'],
  ['data', 'actor_id'],
  ['data', 'version'],
  ['data', 'product'],
  ['data', 'extra'],
  ...['id', 'name', 'description', 'price', 'quantity', 'owner_id', 'created_at', 'updated_at', 'extra'].map(
    (field) => ['data', 'product', field],
  ),
];

/** A valid event with exactly one field set to a near value (or removed, with undefined). */
const oneFieldOff = fc.tuple(validEvent, fc.constantFrom(...FIELD_PATHS), near).map(([valid, path, value]) => {
  const copy = structuredClone(valid) as Record<string, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
  const last = path[path.length - 1] as string;
  if (value === undefined) Reflect.deleteProperty(parent, last);
  else parent[last] = value;
  return copy;
});

test('validateEvent → whatever the fast path takes, the schema takes, with the same value', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(event, withExtraKey, fc.jsonValue()),
      fc.constantFrom(...ALL_TYPES),
      (value, type: EventType) => {
        if (!isPlainProductEvent(value, type)) return true;
        const joi = validateMessage(EVENT_SCHEMAS[type] as Joi.Schema<DomainEvent>, value);
        return joi.ok && JSON.stringify(joi.value) === JSON.stringify(value);
      },
    ),
    { numRuns: 20_000 },
  );
  t.pass();
});

test('validateEvent → answers as the schema, message for message, for every event and type', (t) => {
  fc.assert(
    fc.property(fc.oneof(oneFieldOff, event, withExtraKey), fc.constantFrom(...ALL_TYPES), (value, type: EventType) => {
      const fast = validateEvent(type, value);
      const joi = validateMessage(EVENT_SCHEMAS[type] as Joi.Schema<DomainEvent>, value);
      return fast.ok ? joi.ok : !joi.ok && fast.error === joi.error;
    }),
    { numRuns: 5_000 },
  );
  t.pass();
});

test('validateEvent → product events as product-service writes them take the fast path', (t) => {
  for (const type of PRODUCT_TYPES) {
    const value = {
      id: randomUUID(),
      type,
      version: 1,
      occurred_at: new Date().toISOString(),
      request_id: randomUUID(),
      data: {
        product: {
          id: 7,
          name: 'Cup',
          description: null,
          price: 4.5,
          quantity: 0,
          owner_id: 3,
          created_at: new Date().toISOString(),
          updated_at: new Date().toISOString(),
        },
        actor_id: 3,
        version: 2,
      },
    };
    t.true(isPlainProductEvent(value, type), type);
    const withoutVersion: Record<string, unknown> = { ...value.data };
    Reflect.deleteProperty(withoutVersion, 'version');
    t.true(isPlainProductEvent({ ...value, data: withoutVersion }, type), `${type} recorded before versions`);
    t.deepEqual(validateEvent(type, value), { ok: true, value });
    t.false(isPlainProductEvent({ ...value, version: 2 }, type));
    t.false(isPlainProductEvent(value, EVENT_TYPES.tokenRevoked));
  }
});
