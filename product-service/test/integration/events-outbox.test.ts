import test from 'ava';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { QueryTypes } from 'sequelize';

import {
  EVENT_TYPES,
  REQUEST_ID_HEADER,
  productCreatedEventSchema,
  productEventSchema,
  validateMessage,
  type ProblemDetails,
  type ProductEvent,
} from '@shop/shared-contracts';

import { call, type ReceivedEvent, retryOnDeadlock } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { newUserId, productInput } from '../helpers/factories';
import { useProductEvents, useProductService } from '../helpers/use-product-service';

const ctx = useProductService();
const productEvents = useProductEvents(ctx, 'listener');

/** How long to keep listening for an event that must not come, in ms (several relay drains). */
const QUIET_PERIOD_MS = 1500;

interface OutboxRow {
  id: string;
  type: string;
  payload: ProductEvent;
  occurred_at: Date;
}

/** The outbox rows whose event is about products of `ownerId` or was made by them, oldest first. */
function outboxRowsOf(ownerId: number): Promise<OutboxRow[]> {
  return ctx.db.sequelize.query<OutboxRow>(
    `SELECT id, type, payload, occurred_at FROM outbox_events
      WHERE (payload -> 'data' -> 'product' ->> 'owner_id')::int = :ownerId
         OR (payload -> 'data' ->> 'actor_id')::int = :ownerId
      ORDER BY occurred_at, id`,
    { replacements: { ownerId }, type: QueryTypes.SELECT },
  );
}

const aboutProduct = (productId: number) => (event: ReceivedEvent) =>
  (event.body as ProductEvent).data.product.id === productId;

const ownedBy = (ownerId: number) => (event: ReceivedEvent) =>
  (event.body as ProductEvent).data.product.owner_id === ownerId;

async function quietPeriod(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, QUIET_PERIOD_MS));
}

function validOwnerToken(ownerId: number): string {
  return ctx.responder.tokenFor({ reply: 'valid', userId: ownerId });
}

test('POST, PUT, DELETE → product.created, product.updated, product.deleted in order, each carrying the product as the API showed it', async (t) => {
  const ownerId = newUserId();
  const token = validOwnerToken(ownerId);
  const requestIds: string[] = [`create-${randomUUID()}`, `update-${randomUUID()}`, `delete-${randomUUID()}`];

  const created = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
    token,
    json: productInput({ price: 10, description: null }),
    headers: { 'x-request-id': requestIds[0]! },
  });
  const path = `/products/${created.body.id}`;
  const updated = await call<PublicProduct>(ctx.service.baseUrl, 'PUT', path, {
    token,
    json: { price: 0.3, quantity: 0 },
    headers: { 'x-request-id': requestIds[1]! },
  });
  const lastRead = await call<PublicProduct>(ctx.service.baseUrl, 'GET', path);
  const deleted = await call(ctx.service.baseUrl, 'DELETE', path, {
    token,
    headers: { 'x-request-id': requestIds[2]! },
  });

  t.deepEqual([created.status, updated.status, deleted.status], [201, 200, 204]);
  const messages = await productEvents.listener.waitFor(3, aboutProduct(created.body.id));
  const events = messages.map((message) => message.body as ProductEvent);
  t.deepEqual(
    events.map((event) => event.type),
    [EVENT_TYPES.productCreated, EVENT_TYPES.productUpdated, EVENT_TYPES.productDeleted],
  );
  for (const [index, event] of events.entries()) {
    const check = validateMessage(productEventSchema, event);
    t.true(check.ok, check.ok ? undefined : check.error);
    t.is(event.request_id, requestIds[index]!);
    t.is(event.data.actor_id, ownerId);
    t.like(messages[index]!.properties, {
      messageId: event.id,
      type: event.type,
      appId: 'product-service',
      contentType: 'application/json',
      deliveryMode: 2,
    });
    t.is((messages[index]!.properties.headers as Record<string, unknown>)[REQUEST_ID_HEADER], requestIds[index]);
    t.is(messages[index]!.routingKey, event.type);
  }
  t.deepEqual(events[0]!.data.product, created.body);
  t.deepEqual(events[1]!.data.product, updated.body);
  t.deepEqual(events[2]!.data.product, lastRead.body, 'the deleted product as it was last seen');
  t.is(events[0]!.occurred_at, created.body.created_at, 'the product and its event share the instant');
});

test('a refused write (422 bad input, 401, 403 not the owner, 404 unknown id) records no event', async (t) => {
  const ownerId = newUserId();
  const strangerId = newUserId();
  const owner = validOwnerToken(ownerId);
  const stranger = validOwnerToken(strangerId);
  const refused = ctx.responder.tokenFor({ reply: 'invalid', reason: 'revoked' });
  const created = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
    token: owner,
    json: productInput(),
  });
  const path = `/products/${created.body.id}`;
  const missing = '/products/2147483000';

  const statuses = [
    (await call(ctx.service.baseUrl, 'POST', '/products', { token: owner, json: { name: '', price: -1 } })).status,
    (await call(ctx.service.baseUrl, 'PUT', path, { token: owner, json: { price: 0.001 } })).status,
    (await call(ctx.service.baseUrl, 'POST', '/products', { token: refused, json: productInput() })).status,
    (await call(ctx.service.baseUrl, 'PUT', path, { token: stranger, json: { quantity: 1 } })).status,
    (await call(ctx.service.baseUrl, 'DELETE', path, { token: stranger })).status,
    (await call(ctx.service.baseUrl, 'PUT', missing, { token: owner, json: { quantity: 1 } })).status,
    (await call(ctx.service.baseUrl, 'DELETE', missing, { token: owner })).status,
  ];

  t.deepEqual(statuses, [422, 422, 401, 403, 403, 404, 404]);
  await productEvents.listener.waitFor(1, ownedBy(ownerId));
  await quietPeriod();
  t.deepEqual(
    productEvents.listener.events(ownedBy(ownerId)).map((event) => event.routingKey),
    [EVENT_TYPES.productCreated],
  );
  t.deepEqual(
    (await outboxRowsOf(ownerId)).map((row) => row.type),
    [EVENT_TYPES.productCreated],
  );
  t.deepEqual(await outboxRowsOf(strangerId), []);
});

test('POST /products → the stored product.created event’s product deep-equals the 201 body, for generated products (the SQL and the presenter agree)', async (t) => {
  const ownerId = newUserId();
  const token = validOwnerToken(ownerId);
  let compared = 0;
  const product = fc.record({
    name: fc.oneof(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }),
      fc.constantFrom('"quoted"', "it's", 'back\\slash', '<b>&amp;</b>', 'Ünïcödé 😀', ' padded ', 'n'.repeat(255)),
    ),
    description: fc.oneof(fc.constant(null), fc.string({ unit: 'grapheme', maxLength: 200 })),
    price: fc.oneof(
      fc.integer({ min: 1, max: 999_999_999_999 }).map((cents) => cents / 100),
      fc.constantFrom(0.01, 0.1, 0.3, 1, 10, 19.9, 100.5, 9_999_999_999.99),
    ),
    quantity: fc.oneof(fc.integer({ min: 0, max: 2_147_483_647 }), fc.constantFrom(0, 2_147_483_647)),
  });

  await fc.assert(
    fc.asyncProperty(product, async (body) => {
      const response = await call<PublicProduct & ProblemDetails>(ctx.service.baseUrl, 'POST', '/products', {
        token,
        json: body,
      });
      // A generated name the API refuses (blank, control characters) is not this test's business.
      if (response.status === 422) return;
      if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${response.text}`);
      const [row] = await ctx.db.sequelize.query<OutboxRow>(
        `SELECT id, type, payload, occurred_at FROM outbox_events
          WHERE type = :type AND (payload -> 'data' -> 'product' ->> 'id')::int = :id`,
        { replacements: { type: EVENT_TYPES.productCreated, id: response.body.id }, type: QueryTypes.SELECT },
      );
      if (!row) throw new Error(`no product.created event for product ${response.body.id}`);
      const check = validateMessage(productCreatedEventSchema, row.payload);
      if (!check.ok) throw new Error(check.error);
      t.deepEqual(row.payload.data.product, response.body);
      t.is(row.payload.occurred_at, row.occurred_at.toISOString());
      compared += 1;
    }),
    { numRuns: 60 },
  );

  t.true(compared >= 20, `${compared} products compared`);
});

/**
 * Makes every outbox insert about a product of `ownerId` fail, as a full disk or a broken
 * outbox table would, for this test's owner only (the tests beside it keep recording events).
 */
async function refuseOutboxInsertsAbout(ownerId: number): Promise<() => Promise<void>> {
  const { sequelize } = ctx.db;
  const name = `refuse_outbox_${ownerId}`;
  await sequelize.query(`
    CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'outbox refused by the test';
    END $$`);
  await retryOnDeadlock(() =>
    sequelize.query(`
    CREATE TRIGGER ${name} BEFORE INSERT ON outbox_events FOR EACH ROW
      WHEN ((NEW.payload -> 'data' -> 'product' ->> 'owner_id')::int = ${ownerId})
      EXECUTE FUNCTION ${name}()`),
  );
  return async () => {
    await retryOnDeadlock(() => sequelize.query(`DROP TRIGGER ${name} ON outbox_events`));
    await sequelize.query(`DROP FUNCTION ${name}()`);
  };
}

test('a write whose event cannot be recorded → 5xx and nothing changes (no half-done create, update or delete)', async (t) => {
  const ownerId = newUserId();
  const token = validOwnerToken(ownerId);
  const existing = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
    token,
    json: productInput({ quantity: 5 }),
  });
  const allow = await refuseOutboxInsertsAbout(ownerId);
  t.teardown(allow);
  const path = `/products/${existing.body.id}`;

  const create = await call(ctx.service.baseUrl, 'POST', '/products', { token, json: productInput({ name: 'Never' }) });
  const update = await call(ctx.service.baseUrl, 'PUT', path, { token, json: { quantity: 6 } });
  const remove = await call(ctx.service.baseUrl, 'DELETE', path, { token });

  for (const response of [create, update, remove]) t.true(response.status >= 500, `status ${response.status}`);
  const rows = await ctx.db.productRowsOwnedBy(ownerId);
  t.deepEqual(
    rows.map((row) => [row.id, row.quantity]),
    [[existing.body.id, 5]],
  );
  t.deepEqual(
    (await outboxRowsOf(ownerId)).map((row) => row.type),
    [EVENT_TYPES.productCreated],
  );
});
