import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { request } from 'node:http';
import { QueryTypes } from 'sequelize';

import { EVENT_TYPES, type ProblemDetails, type ProductEvent } from '@shop/shared-contracts';
import { call, expectProblem, waitUntil, type ApiResponse } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { IdempotencyKeyRepository } from '../../src/repositories/idempotency-key.repository';
import { newUserId, productInput, type ProductInput } from '../helpers/factories';
import { TestResponder } from '../helpers/test-responder';
import { useProductEvents, useProductService } from '../helpers/use-product-service';

const ctx = useProductService();
const productEvents = useProductEvents(ctx, 'idempotency');

let keys = 0;
/** A key no other test uses (keys are per user anyway; this keeps failures readable). */
const newKey = () => `key-${process.pid}-${(keys += 1)}-${Date.now()}`;

const tokenOf = (userId: number) => ctx.responder.tokenFor({ reply: 'valid', userId });

function create(
  baseUrl: string,
  token: string,
  key: string | undefined,
  body: unknown,
): Promise<ApiResponse<PublicProduct>> {
  return call<PublicProduct>(baseUrl, 'POST', '/products', {
    token,
    json: body,
    ...(key === undefined ? {} : { headers: { 'idempotency-key': key } }),
  });
}

/** Asserts that `response` is a replay of `original`: the same 201 and product, marked as replayed. */
function assertReplayOf(
  t: ExecutionContext,
  response: ApiResponse<PublicProduct>,
  original: ApiResponse<PublicProduct>,
) {
  t.is(response.status, 201, response.text);
  t.is(response.headers.get('idempotent-replayed'), 'true');
  t.deepEqual(response.body, original.body);
}

interface KeyRow {
  user_id: number;
  key: string;
  fingerprint: string;
  response_status: number;
}

function keyRowsOf(userId: number): Promise<KeyRow[]> {
  return ctx.db.sequelize.query<KeyRow>(
    'SELECT user_id, key, fingerprint, response_status FROM idempotency_keys WHERE user_id = :userId ORDER BY key',
    { replacements: { userId }, type: QueryTypes.SELECT },
  );
}

/** The product.created outbox rows of `ownerId`'s products. */
function createdEventsOf(ownerId: number): Promise<{ payload: ProductEvent; published_at: Date | null }[]> {
  return ctx.db.sequelize.query(
    `SELECT payload, published_at FROM outbox_events
      WHERE type = :type AND (payload -> 'data' -> 'product' ->> 'owner_id')::int = :ownerId`,
    { replacements: { ownerId, type: EVENT_TYPES.productCreated }, type: QueryTypes.SELECT },
  );
}

test('one key sent 20 times, 10 at once over two replicas → one product, one product.created event, every answer the 201 (replayed) or a 409', async (t) => {
  const ownerId = newUserId();
  const token = tokenOf(ownerId);
  const key = newKey();
  const body = productInput();
  const other = await ctx.startAnother();

  const concurrent = await Promise.all(
    Array.from({ length: 10 }, (_, i) => create(i % 2 === 0 ? ctx.service.baseUrl : other.baseUrl, token, key, body)),
  );
  const sequential: ApiResponse<PublicProduct>[] = [];
  for (let i = 0; i < 10; i += 1) {
    sequential.push(await create(i % 2 === 0 ? other.baseUrl : ctx.service.baseUrl, token, key, body));
  }

  const all = [...concurrent, ...sequential];
  t.true(
    all.every((response) => response.status === 201 || response.status === 409),
    all.map((response) => response.status).join(','),
  );
  const originals = all.filter((response) => response.status === 201 && !response.headers.has('idempotent-replayed'));
  t.is(originals.length, 1, 'exactly one answer made the product');
  const original = originals[0]!;
  for (const conflict of all.filter((response) => response.status === 409)) {
    const problem = expectProblem(t, conflict, 409);
    t.is(problem.type, 'urn:problem-type:idempotency-key-in-use');
    t.is(conflict.headers.get('retry-after'), '1');
  }
  // After the first finished, every repeat is a replay of it.
  for (const replay of sequential) {
    assertReplayOf(t, replay, original);
    t.is(replay.headers.get('location'), `/products/${original.body.id}`);
    t.is(replay.headers.get('etag'), '"1"');
  }
  t.is((await ctx.db.productRowsOwnedBy(ownerId)).length, 1);
  t.deepEqual(
    (await keyRowsOf(ownerId)).map((row) => [row.key, row.response_status]),
    [[key, 201]],
  );
  const events = await createdEventsOf(ownerId);
  t.is(events.length, 1, 'one product.created recorded');
  t.like(events[0]?.payload.data, { product: original.body, version: 1 });
  await productEvents.listener.waitFor(1, (event) => (event.body as ProductEvent).data.product.owner_id === ownerId);
  await waitUntil(
    async () => (await createdEventsOf(ownerId)).every((event) => event.published_at !== null),
    'the product.created event published',
  );
  t.is(
    productEvents.listener.events((event) => (event.body as ProductEvent).data.product.owner_id === ownerId).length,
    1,
    'one product.created published',
  );
});

test('a replay is the stored answer: the product as created, even after it changed since', async (t) => {
  const ownerId = newUserId();
  const token = tokenOf(ownerId);
  const key = newKey();
  const body = productInput({ quantity: 5 });
  const first = await create(ctx.service.baseUrl, token, key, body);
  await call(ctx.service.baseUrl, 'PATCH', `/products/${first.body.id}`, { token, json: { quantity: 6 } });

  const replay = await create(ctx.service.baseUrl, token, key, body);

  t.is(first.status, 201);
  t.false(first.headers.has('idempotent-replayed'));
  assertReplayOf(t, replay, first);
  t.is(replay.body.quantity, 5);
  t.is(replay.headers.get('content-type'), 'application/json; charset=utf-8');
});

test('the same key with the same body written differently (key order, spaces around the name) → a replay', async (t) => {
  const ownerId = newUserId();
  const token = tokenOf(ownerId);
  const key = newKey();
  const first = await create(ctx.service.baseUrl, token, key, { name: 'Lamp', price: 12.5, quantity: 1 });

  const replay = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
    token,
    raw: '{ "quantity": 1, "price": 12.50, "description": null, "name": "  Lamp " }',
    contentType: 'application/json',
    headers: { 'idempotency-key': key },
  });

  assertReplayOf(t, replay, first);
  t.is((await ctx.db.productRowsOwnedBy(ownerId)).length, 1);
});

test('the same key with another body → 422 idempotency-key-reused, and nothing is written', async (t) => {
  const ownerId = newUserId();
  const token = tokenOf(ownerId);
  const key = newKey();
  await create(ctx.service.baseUrl, token, key, productInput({ name: 'First', quantity: 1 }));

  const reused = await create(ctx.service.baseUrl, token, key, productInput({ name: 'First', quantity: 2 }));

  const problem = expectProblem(t, reused, 422);
  t.like(problem, { type: 'urn:problem-type:idempotency-key-reused', title: 'Idempotency key reused' });
  t.deepEqual(
    (await ctx.db.productRowsOwnedBy(ownerId)).map((row) => row.quantity),
    [1],
  );
  t.is((await createdEventsOf(ownerId)).length, 1);
});

test('another user sending the same key → an independent create', async (t) => {
  const [alice, bob] = [newUserId(), newUserId()];
  const key = newKey();
  const body = productInput();

  const fromAlice = await create(ctx.service.baseUrl, tokenOf(alice), key, body);
  const fromBob = await create(ctx.service.baseUrl, tokenOf(bob), key, body);

  t.is(fromAlice.status, 201);
  t.is(fromBob.status, 201);
  t.false(fromBob.headers.has('idempotent-replayed'));
  t.not(fromBob.body.id, fromAlice.body.id);
  t.is(fromBob.body.owner_id, bob);
  t.is((await ctx.db.productRowsOwnedBy(alice)).length, 1);
  t.is((await ctx.db.productRowsOwnedBy(bob)).length, 1);
});

test('a create refused before the write (422, 401) stores nothing: its retry runs afresh', async (t) => {
  const ownerId = newUserId();
  const key = newKey();
  const refusedToken = ctx.responder.tokenFor({ reply: 'invalid', reason: 'expired' });

  const invalid = await create(ctx.service.baseUrl, tokenOf(ownerId), key, { name: '', price: 1, quantity: 1 });
  const unauthorized = await create(ctx.service.baseUrl, refusedToken, key, productInput());
  const retried = await create(ctx.service.baseUrl, tokenOf(ownerId), key, productInput({ name: 'Retried' }));

  expectProblem(t, invalid, 422);
  expectProblem(t, unauthorized, 401);
  t.is(retried.status, 201);
  t.false(retried.headers.has('idempotent-replayed'));
  t.is(retried.body.name, 'Retried');
  t.is((await keyRowsOf(ownerId)).length, 1);
});

test('a create answered 503 while user-service was away, retried with its key once it is back → one product', async (t) => {
  const ownerId = newUserId();
  const key = newKey();
  const token = `test-token.absent-${newKey()}`;
  // An instance whose RPC queue nobody has declared yet: user-service is not there.
  const queue = ctx.unusedQueue(`absent-${ownerId}`);
  const instance = await ctx.startAnother({ queue });
  const body = productInput();

  const during = await create(instance.baseUrl, token, key, body);
  const responder = await TestResponder.start(ctx.env.amqpUrl, queue);
  t.teardown(() => responder.close());
  responder.rescript(token, { reply: 'valid', userId: ownerId });
  const after = await create(instance.baseUrl, token, key, body);
  const again = await create(instance.baseUrl, token, key, body);

  expectProblem(t, during, 503);
  t.truthy(during.headers.get('retry-after'));
  t.is(after.status, 201, after.text);
  t.false(after.headers.has('idempotent-replayed'));
  assertReplayOf(t, again, after);
  t.is((await ctx.db.productRowsOwnedBy(ownerId)).length, 1);
});

test('a key held by a create in flight elsewhere → 409 with Retry-After; once that transaction is gone (a crash), the key is free', async (t) => {
  const ownerId = newUserId();
  const token = tokenOf(ownerId);
  const key = newKey();
  const keysRepository = new IdempotencyKeyRepository(ctx.db.sequelize);
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    locked = resolve;
  });
  let idleLimit = '';
  // Another replica's create, stopped midway: it holds the key in its open transaction.
  const inFlight = ctx.db.sequelize
    .transaction(async (transaction) => {
      t.true(await keysRepository.tryLock(ownerId, key, transaction));
      const [row] = await ctx.db.sequelize.query<{ idle_in_transaction_session_timeout: string }>(
        'SHOW idle_in_transaction_session_timeout',
        { type: QueryTypes.SELECT, transaction },
      );
      idleLimit = row?.idle_in_transaction_session_timeout ?? '';
      locked();
      await released;
      throw new Error('the holder crashes: its transaction rolls back');
    })
    .catch(() => undefined);
  await held;

  const whileHeld = await create(ctx.service.baseUrl, token, key, productInput());
  release();
  await inFlight;
  const afterwards = await create(ctx.service.baseUrl, token, key, productInput());

  const problem = expectProblem(t, whileHeld, 409);
  t.is(problem.type, 'urn:problem-type:idempotency-key-in-use');
  t.is(whileHeld.headers.get('retry-after'), '1');
  t.is(idleLimit, '30s', 'a stalled holder is cut off by PostgreSQL after 30 s');
  t.is(afterwards.status, 201);
  t.false(afterwards.headers.has('idempotent-replayed'));
  t.is((await ctx.db.productRowsOwnedBy(ownerId)).length, 1);
});

test('a key older than 24 h → not replayed: the create runs afresh and takes the key over', async (t) => {
  const ownerId = newUserId();
  const token = tokenOf(ownerId);
  const key = newKey();
  const first = await create(ctx.service.baseUrl, token, key, productInput());
  await ctx.db.sequelize.query(
    "UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 second' WHERE user_id = :ownerId",
    { replacements: { ownerId } },
  );

  const nextDay = productInput({ name: 'Next day' });
  const second = await create(ctx.service.baseUrl, token, key, nextDay);
  const replayOfSecond = await create(ctx.service.baseUrl, token, key, nextDay);

  t.is(second.status, 201);
  t.false(second.headers.has('idempotent-replayed'));
  t.not(second.body.id, first.body.id);
  assertReplayOf(t, replayOfSecond, second);
});

test('the purge → deletes keys older than 24 h every IDEMPOTENCY_PURGE_INTERVAL_MS, and keeps the others', async (t) => {
  const ownerId = newUserId();
  const token = tokenOf(ownerId);
  const [oldKey, freshKey] = [newKey(), newKey()];
  await create(ctx.service.baseUrl, token, oldKey, productInput());
  await create(ctx.service.baseUrl, token, freshKey, productInput());
  await ctx.db.sequelize.query(
    "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = :ownerId AND key = :oldKey",
    { replacements: { ownerId, oldKey } },
  );

  await ctx.startAnother({ env: { IDEMPOTENCY_PURGE_INTERVAL_MS: '1000' } });

  await waitUntil(async () => (await keyRowsOf(ownerId)).length === 1, 'the old key purged', {
    timeoutMs: 15_000,
    intervalMs: 100,
  });
  t.deepEqual(
    (await keyRowsOf(ownerId)).map((row) => row.key),
    [freshKey],
  );
});

test('Idempotency-Key → 400 naming the header when empty, longer than 255, not printable ASCII, or sent twice; never stored', async (t) => {
  const ownerId = newUserId();
  const token = tokenOf(ownerId);
  for (const key of ['', 'k'.repeat(256), 'clé', 'tab\there']) {
    const response = await create(ctx.service.baseUrl, token, key, productInput());
    const problem = expectProblem(t, response, 400);
    t.regex(problem.detail, /Idempotency-Key/, JSON.stringify(key));
  }
  const twice = await sendTwoKeys(ctx.service.baseUrl, token, productInput());
  t.is(twice.status, 400, twice.text);
  t.regex((JSON.parse(twice.text) as ProblemDetails).detail, /Idempotency-Key/);

  const longest = await create(ctx.service.baseUrl, token, 'k'.repeat(255), productInput());
  const spaced = await create(ctx.service.baseUrl, token, 'a key ~ with spaces', productInput());
  t.is(longest.status, 201);
  t.is(spaced.status, 201);
  t.deepEqual((await keyRowsOf(ownerId)).map((row) => row.key).sort(), ['a key ~ with spaces', 'k'.repeat(255)]);
});

test('Idempotency-Key → generated values get a 201 or a 400 by the printable-ASCII rule, never a 5xx', async (t) => {
  const ownerId = newUserId();
  const token = tokenOf(ownerId);
  // What an HTTP client can put in a header value: tab, printable ASCII and Latin-1.
  const headerChar = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constantFrom(0x09, 0x80, 0xa0, 0xe9, 0xff));
  await fc.assert(
    fc.asyncProperty(
      fc.array(headerChar, { maxLength: 300 }).map((codes) => String.fromCharCode(...codes)),
      async (key) => {
        const response = await create(ctx.service.baseUrl, token, key, productInput());
        // Node trims the spaces around a header value, as any HTTP server does.
        const sent = key.replace(/^[ \t]+|[ \t]+$/g, '');
        const valid = /^[\x20-\x7e]{1,255}$/.test(sent);
        return response.status === (valid ? 201 : 400);
      },
    ),
    { numRuns: 40 },
  );
  t.pass();
});

/** POST /products with two Idempotency-Key header lines (the harness's client sends one of each). */
function sendTwoKeys(baseUrl: string, token: string, body: ProductInput): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(baseUrl);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname,
        port,
        method: 'POST',
        path: '/products',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(payload)),
          'idempotency-key': ['first', 'second'],
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
