import test from 'ava';

import { EVENT_TYPES, type ProblemDetails } from '@shop/shared-contracts';
import {
  AuthEventPublisher,
  call,
  TcpProxy,
  tokenRevokedEvent,
  userDeactivatedEvent,
  waitUntil,
} from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { DEFAULT_REVOCATION_SETTLE_MS } from '../../src/services/cached-token-validator';
import { newUserId, productInput } from '../helpers/factories';
import { waitFor, type StartedProductService } from '../helpers/product-service';
import { useProductService } from '../helpers/use-product-service';

// A TTL far longer than this file runs: only events, flushes and token expiry remove entries.
// Serial tests: they compare counters of instances that every event of the file reaches.
const ctx = useProductService({ AUTH_CACHE_TTL_MS: '300000' });

let publisher: AuthEventPublisher | undefined;

test.serial.before(async () => {
  publisher = await AuthEventPublisher.start(ctx.env.amqpUrl, ctx.service.config.amqp.authEventsExchange);
});

test.serial.after.always(async () => {
  await publisher?.close();
});

function events(): AuthEventPublisher {
  if (!publisher) throw new Error('the event publisher has not started');
  return publisher;
}

const create = (service: StartedProductService, token: string) =>
  call<PublicProduct & ProblemDetails>(service.baseUrl, 'POST', '/products', { token, json: productInput() });

/** A token of a new user, validated once so that the service has it cached. */
async function cachedToken(service: StartedProductService, userId = newUserId()): Promise<string> {
  const token = ctx.responder.tokenFor({ reply: 'valid', userId });
  const response = await create(service, token);
  if (response.status !== 201) throw new Error(`caching a token: ${response.status} ${response.text}`);
  return token;
}

test.serial(
  'the first write asks user-service once; the next 20 with that token send nothing over RabbitMQ',
  async (t) => {
    const service = ctx.service;
    const userId = newUserId();
    const token = ctx.responder.tokenFor({ reply: 'valid', userId });
    const sentBefore = service.client.stats.sent;
    const hitsBefore = service.cache.stats.hits;

    const first = await create(service, token);
    const sentAfterFirst = service.client.stats.sent;
    const more = [];
    for (let write = 0; write < 20; write += 1) more.push(await create(service, token));

    t.is(first.status, 201);
    t.is(sentAfterFirst - sentBefore, 1, 'the first write published one request');
    t.deepEqual(
      more.map((response) => [response.status, response.body.owner_id]),
      more.map(() => [201, userId]),
    );
    t.is(service.client.stats.sent - sentBefore, 1, 'the 20 cached writes published nothing');
    t.is(ctx.responder.requestsFor(token).length, 1, 'user-service was asked once');
    t.is(service.cache.stats.hits - hitsBefore, 20);
    t.is((await ctx.db.productRowsOwnedBy(userId)).length, 21);
  },
);

test.serial(
  '100 concurrent writes with one fresh token → exactly one request reaches user-service; all 201',
  async (t) => {
    const service = ctx.service;
    const userId = newUserId();
    const token = ctx.responder.tokenFor({ reply: 'valid', userId });
    const before = service.cache.stats;

    const responses = await Promise.all(Array.from({ length: 100 }, () => create(service, token)));

    t.deepEqual([...new Set(responses.map((response) => response.status))], [201]);
    t.is(ctx.responder.requestsFor(token).length, 1);
    const after = service.cache.stats;
    t.is(after.misses - before.misses, 1);
    t.is(after.shared - before.shared + (after.hits - before.hits), 99, 'the others joined the call or hit its answer');
    t.is((await ctx.db.productRowsOwnedBy(userId)).length, 100);
  },
);

test.serial(
  'auth.token_revoked → evicted; the next write with the token is 401, another user’s stays cached',
  async (t) => {
    const service = ctx.service;
    const userId = newUserId();
    const token = await cachedToken(service, userId);
    const otherUsersToken = await cachedToken(service);
    ctx.responder.rescript(token, { reply: 'invalid', reason: 'revoked' });
    const before = service.subscriber.stats;

    events().publish(tokenRevokedEvent(userId));
    const evictedAfterMs = await waitUntil(
      () => service.subscriber.stats.applied === before.applied + 1,
      'the eviction',
    );
    const refused = await create(service, token);
    const untouched = await create(service, otherUsersToken);

    t.log(`evicted ${evictedAfterMs.toFixed(2)} ms after the event was published`);
    t.is(service.subscriber.stats.evictions - before.evictions, 1);
    t.is(refused.status, 401);
    t.is(refused.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    t.is(ctx.responder.requestsFor(token).length, 2, 'the write after the event asked user-service again');
    t.is(untouched.status, 201);
    t.is(ctx.responder.requestsFor(otherUsersToken).length, 1, "another user's validation stayed cached");
  },
);

test.serial(
  '50 revocations in a row → each applied, evicting its user’s cached validation (the delays logged)',
  async (t) => {
    const service = ctx.service;
    const latencies: number[] = [];
    const before = service.subscriber.stats;
    const cachedBefore = service.cache.size;
    for (let sample = 0; sample < 50; sample += 1) {
      const userId = newUserId();
      await cachedToken(service, userId);
      const applied = service.subscriber.stats.applied;
      events().publish(tokenRevokedEvent(userId));
      latencies.push(await waitUntil(() => service.subscriber.stats.applied === applied + 1, 'the eviction'));
    }

    latencies.sort((a, b) => a - b);
    const at = (fraction: number) => (latencies[Math.floor(fraction * (latencies.length - 1))] ?? NaN).toFixed(2);
    t.log(`publish → eviction: p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`);
    const after = service.subscriber.stats;
    t.is(after.applied - before.applied, 50);
    t.is(after.evictions - before.evictions, 50, 'each event evicted the one validation of its user');
    t.is(service.cache.size, cachedBefore, 'none of the 50 is cached any more');
  },
);

test.serial('a duplicate event (same id) → counted as a duplicate, evicts nothing', async (t) => {
  const service = ctx.service;
  const userId = newUserId();
  const event = tokenRevokedEvent(userId);
  const applied = service.subscriber.stats.applied;
  events().publish(event);
  await waitUntil(() => service.subscriber.stats.applied === applied + 1, 'the first delivery');
  // Answers for a just-evicted user are not stored for DEFAULT_REVOCATION_SETTLE_MS. A fixed
  // wait, as the state waited for is the clock: that window has passed (waiting longer on a slow
  // machine changes nothing).
  await new Promise((resolve) => setTimeout(resolve, DEFAULT_REVOCATION_SETTLE_MS + 50));
  const token = await cachedToken(service, userId);
  const before = service.subscriber.stats;

  events().publish(event);
  await waitUntil(() => service.subscriber.stats.duplicates === before.duplicates + 1, 'the duplicate');
  const write = await create(service, token);

  t.like(service.subscriber.stats, { applied: before.applied, evictions: before.evictions });
  t.is(write.status, 201);
  t.is(ctx.responder.requestsFor(token).length, 1, 'the validation cached after the first delivery stayed');
});

test.serial(
  'malformed messages → dropped and counted; the subscriber keeps consuming on the same channel',
  async (t) => {
    const service = ctx.service;
    const userId = newUserId();
    const token = await cachedToken(service, userId);
    const before = service.subscriber.stats;

    events().publishRaw(EVENT_TYPES.tokenRevoked, 'this is not json');
    events().publishRaw(
      EVENT_TYPES.tokenRevoked,
      JSON.stringify({ ...tokenRevokedEvent(userId), data: { user_id: 'seven' } }),
    );
    events().publishRaw(EVENT_TYPES.userDeactivated, JSON.stringify({ ...userDeactivatedEvent(userId), version: 2 }));
    // Delivered in order on one channel: once this one is applied, the three before it were handled.
    events().publish(userDeactivatedEvent(userId));
    await waitUntil(() => service.subscriber.stats.applied === before.applied + 1, 'the valid event');

    t.is(service.subscriber.stats.malformed - before.malformed, 3);
    t.is(service.subscriber.stats.evictions - before.evictions, 1);
    t.is(service.subscriber.stats.flushes, before.flushes, 'no reconnect: the channel survived');
    t.true(service.subscriber.isConsuming);
    ctx.responder.rescript(token, { reply: 'invalid', reason: 'user_inactive' });
    t.is((await create(service, token)).status, 401);
  },
);

test.serial('user.deactivated → every cached validation of that user goes (all their tokens)', async (t) => {
  const service = ctx.service;
  const userId = newUserId();
  const tokens = [await cachedToken(service, userId), await cachedToken(service, userId)];
  const before = service.subscriber.stats;

  events().publish(userDeactivatedEvent(userId));
  await waitUntil(() => service.subscriber.stats.applied === before.applied + 1, 'the eviction');
  for (const token of tokens) ctx.responder.rescript(token, { reply: 'invalid', reason: 'user_inactive' });
  const writes = [await create(service, tokens[0]!), await create(service, tokens[1]!)];

  t.is(service.subscriber.stats.evictions - before.evictions, 2);
  t.deepEqual(
    writes.map((write) => write.status),
    [401, 401],
  );
  t.deepEqual(
    tokens.map((token) => ctx.responder.requestsFor(token).length),
    [2, 2],
  );
});

test.serial(
  'the broker closes the connection → a cached token still writes while down; after the reconnect the cache was flushed and the queue is back with both bindings',
  async (t) => {
    // Through a proxy of this test's own, which refuses new connections once the broker has
    // closed ours: the service stays down until the test restores it, however fast it retries.
    const broker = new URL(ctx.env.amqpUrl);
    const proxy = await TcpProxy.start({ targetHost: broker.hostname, targetPort: Number(broker.port || 5672) });
    t.teardown(() => proxy.close());
    const service = await ctx.startAnother({ env: { AMQP_URL: proxy.proxiedUrl(ctx.env.amqpUrl) } });
    const userId = newUserId();
    const token = await cachedToken(service, userId);
    const uncached = ctx.responder.tokenFor({ reply: 'valid', userId: newUserId() });
    const flushes = service.subscriber.stats.flushes;
    const sent = service.client.stats.sent;

    proxy.refuseNew();
    t.is(await ctx.env.closeBrokerConnections(service.connectionName), 1);
    await waitFor(() => !service.client.isReady && !service.subscriber.isConsuming, 10_000, 'the disconnect');
    const cachedWhileDown = await create(service, token);
    const uncachedWhileDown = await create(service, uncached);

    t.is(cachedWhileDown.status, 201, 'the cache answered for the token it held');
    t.is(uncachedWhileDown.status, 503, 'a token it did not hold needs the RPC, which is down');
    t.is(service.client.stats.sent, sent, 'nothing was published while down');
    t.is(service.subscriber.stats.flushes, flushes, 'not flushed while down');

    proxy.restore();
    await waitFor(() => service.subscriber.stats.flushes === flushes + 1, 15_000, 'the reconnect and its flush');
    await waitFor(() => service.client.isReady, 10_000, 'the RPC channel');
    const afterReconnect = await create(service, token);
    t.is(afterReconnect.status, 201);
    t.is(ctx.responder.requestsFor(token).length, 2, 'flushed: the token was validated again');

    const listing = await ctx.env.rabbitmqctl([
      'list_bindings',
      'source_name',
      'destination_name',
      'routing_key',
      '-q',
      '--no-table-headers',
    ]);
    const routingKeys = listing
      .split('\n')
      .map((line) => line.trim().split('\t'))
      .filter(
        ([source, destination]) => source === service.subscriber.exchange && destination === service.subscriber.queue,
      )
      .map(([, , routingKey]) => routingKey)
      .sort();
    t.deepEqual(routingKeys, [EVENT_TYPES.tokenRevoked, EVENT_TYPES.userDeactivated]);
    const applied = service.subscriber.stats.applied;
    events().publish(tokenRevokedEvent(userId));
    await waitUntil(() => service.subscriber.stats.applied === applied + 1, 'an event on the new queue');
  },
);

test.serial(
  'AUTH_CACHE_TTL_MS=0 → every write asks user-service, but concurrent ones still share one request',
  async (t) => {
    const service = await ctx.startAnother({ env: { AUTH_CACHE_TTL_MS: '0' } });
    const sequential = ctx.responder.tokenFor({ reply: 'valid', userId: newUserId() });
    // Answered only once all 20 concurrent writes have joined the call in flight.
    let release: () => void = () => undefined;
    const concurrent = ctx.responder.tokenFor({
      reply: 'valid',
      userId: newUserId(),
      heldUntil: new Promise<void>((resolve) => {
        release = resolve;
      }),
    });

    for (let write = 0; write < 3; write += 1) t.is((await create(service, sequential)).status, 201);
    const before = service.cache.stats;
    const writes = Promise.all(Array.from({ length: 20 }, () => create(service, concurrent)));
    await waitUntil(
      () => service.cache.stats.misses - before.misses === 1 && service.cache.stats.shared - before.shared === 19,
      'the 20 writes to share one call',
      { intervalMs: 5 },
    );
    release();
    const responses = await writes;

    t.is(ctx.responder.requestsFor(sequential).length, 3);
    t.deepEqual([...new Set(responses.map((response) => response.status))], [201]);
    t.is(ctx.responder.requestsFor(concurrent).length, 1);
    t.is(service.cache.size, 0);
  },
);

test.serial('GET /health → reports the auth-events subscriber', async (t) => {
  const response = await call<{ checks: Record<string, unknown> }>(ctx.service.baseUrl, 'GET', '/health');

  t.is(response.status, 200);
  t.like(response.body.checks, {
    auth_events: { status: 'up', exchange: ctx.service.config.amqp.authEventsExchange },
  });
});
