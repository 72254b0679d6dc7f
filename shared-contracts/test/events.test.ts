import test from 'ava';

import {
  EVENT_SCHEMAS,
  EVENT_TYPES,
  authEventSchema,
  productCreatedEventSchema,
  domainEventSchema,
  productEventSchema,
  validateMessage,
  type DomainEvent,
  type ProductCreatedEvent,
  type TokenRevokedEvent,
  type UserDeactivatedEvent,
} from '../src';

const envelope = {
  id: '0b9b7f2e-6a4c-4d0b-9a53-2f8f4f0f6c11',
  version: 1 as const,
  occurred_at: '2026-11-24T10:00:00.000Z',
  request_id: 'req-1',
};

const tokenRevoked: TokenRevokedEvent = {
  ...envelope,
  type: EVENT_TYPES.tokenRevoked,
  data: { jti: 'a-jti', user_id: 7, exp: 1_800_000_000 },
};

const userDeactivated: UserDeactivatedEvent = {
  ...envelope,
  type: EVENT_TYPES.userDeactivated,
  request_id: null,
  data: { user_id: 7 },
};

const productCreated: ProductCreatedEvent = {
  ...envelope,
  type: EVENT_TYPES.productCreated,
  data: {
    product: {
      id: 1,
      name: 'Lamp',
      description: null,
      price: 19.99,
      quantity: 3,
      owner_id: 7,
      created_at: envelope.occurred_at,
      updated_at: envelope.occurred_at,
    },
    actor_id: 7,
    version: 1,
  },
};

test('every event type has a schema that accepts a well-formed event of that type', (t) => {
  const samples: DomainEvent[] = [
    tokenRevoked,
    userDeactivated,
    productCreated,
    { ...productCreated, type: EVENT_TYPES.productUpdated },
    { ...productCreated, type: EVENT_TYPES.productDeleted },
  ];
  t.deepEqual(samples.map((event) => event.type).sort(), Object.values(EVENT_TYPES).sort());
  for (const event of samples) {
    t.true(validateMessage<DomainEvent>(EVENT_SCHEMAS[event.type], event).ok, event.type);
    t.true(validateMessage(domainEventSchema, event).ok, event.type);
  }
});

test('product events → data.version is optional (events recorded before versions) but a positive integer when present', (t) => {
  const withoutVersion: Record<string, unknown> = { ...productCreated.data };
  Reflect.deleteProperty(withoutVersion, 'version');
  t.true(validateMessage(productCreatedEventSchema, { ...productCreated, data: withoutVersion }).ok);
  for (const version of [0, -1, 1.5, '2', null]) {
    t.false(
      validateMessage(productCreatedEventSchema, { ...productCreated, data: { ...productCreated.data, version } }).ok,
    );
  }
});

test('each exchange schema accepts only its own events', (t) => {
  t.true(validateMessage(authEventSchema, tokenRevoked).ok);
  t.true(validateMessage(authEventSchema, userDeactivated).ok);
  t.false(validateMessage(authEventSchema, productCreated).ok);
  t.true(validateMessage(productEventSchema, productCreated).ok);
  t.false(validateMessage(productEventSchema, tokenRevoked).ok);
});

test('an event with a body of another type, a missing id or an unknown version is refused', (t) => {
  const wrongBody = { ...tokenRevoked, data: { user_id: 7 } };
  const withoutId: Partial<TokenRevokedEvent> = { ...tokenRevoked };
  delete withoutId.id;
  const futureVersion = { ...tokenRevoked, version: 2 };
  const extraField = { ...userDeactivated, data: { user_id: 7, admin: true } };
  const notUuid = { ...userDeactivated, id: 'not-a-uuid' };
  for (const bad of [wrongBody, withoutId, futureVersion, extraField, notUuid]) {
    t.false(validateMessage(domainEventSchema, bad).ok, JSON.stringify(bad));
  }
});

test('the type of an event is the one its schema names, so routing keys cannot lie about bodies', (t) => {
  for (const [type, schema] of Object.entries(EVENT_SCHEMAS)) {
    const other = type === EVENT_TYPES.userDeactivated ? tokenRevoked : userDeactivated;
    t.false(validateMessage<DomainEvent>(schema, other).ok, `${type} accepted ${other.type}`);
  }
});
