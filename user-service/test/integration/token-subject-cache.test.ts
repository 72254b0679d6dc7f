import test from 'ava';
import jwt from 'jsonwebtoken';

import { EVENT_TYPES, type ValidateTokenReply } from '@shop/shared-contracts';
import {
  AuthEventPublisher,
  sampleValue,
  scrapeMetrics,
  TcpProxy,
  tokenRevokedEvent,
  userDeactivatedEvent,
  waitUntil,
} from '@shop/test-harness';

import { loginToken, postJson, registerUser } from '../helpers/factories';
import { RpcProbe } from '../helpers/rpc-probe';
import type { StartedUserService } from '../helpers/user-service';
import { useUserService } from '../helpers/use-user-service';

/**
 * Two instances of one deployment, in this process: A (the file's service) and B, on one
 * database and one auth-events exchange, each consuming its own RPC queue so that a request can
 * be aimed at either. A TTL far longer than this file runs: only events, flushes and token expiry
 * remove entries. Serial: the tests compare counters that every event of the file moves.
 */
const ctx = useUserService({ TOKEN_SUBJECT_CACHE_TTL_MS: '300000' });

let instanceB: StartedUserService | undefined;
let probeB: RpcProbe | undefined;
let publisher: AuthEventPublisher | undefined;
/** Between instance C and the broker; closed after the file's instances (C reconnects through it until then). */
let proxy: TcpProxy | undefined;
/** Subject queries (`findTokenSubject`'s SQL) run on the shared database by both instances. */
let subjectQueries = 0;

test.serial.before(async () => {
  instanceB = await ctx.startAnother({ AUTH_RPC_QUEUE: ctx.env.queueName('auth.validate_token.b') });
  probeB = await RpcProbe.open(ctx.env.amqpUrl, instanceB.queue);
  publisher = await AuthEventPublisher.start(ctx.env.amqpUrl, ctx.service.config.amqp.authEventsExchange);
  ctx.service.sequelize.addHook('afterQuery', (_options, query) => {
    if ((query as unknown as { sql?: string }).sql?.includes('FROM revoked_tokens r WHERE r.jti')) subjectQueries += 1;
  });
});

test.serial.after.always(async () => {
  await probeB?.close();
  await publisher?.close();
  await proxy?.close();
});

const a = () => ctx.service;
const b = () => {
  if (!instanceB) throw new Error('instance B has not started');
  return instanceB;
};
const rpcB = async (token: string): Promise<ValidateTokenReply> => {
  if (!probeB) throw new Error('the RPC probe has not started');
  return (await probeB.call({ token })).body;
};
const events = () => {
  if (!publisher) throw new Error('the event publisher has not started');
  return publisher;
};

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const jtiOf = (token: string) => (jwt.decode(token) as { jti: string }).jti;

async function validate(service: StartedUserService, token: string): Promise<{ valid: boolean; reason?: string }> {
  const response = await postJson(service.baseUrl, '/validate-token', { token });
  return (await response.json()) as { valid: boolean; reason?: string };
}

/** A new user with `count` tokens, each validated once through B so that B has them cached. */
async function cachedInB(count = 1): Promise<{ userId: number; tokens: string[] }> {
  const user = await registerUser(a().baseUrl);
  const tokens: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const token = await loginToken(a().baseUrl, user);
    if (!(await validate(b(), token)).valid) throw new Error('a fresh token was refused');
    tokens.push(token);
  }
  return { userId: user.id, tokens };
}

/**
 * Asks `ask` again and again until `done` holds for its answer; resolves with the ms that took
 * (a figure to log: how soon is the bench's business), rejects after 10 s without it.
 */
function msUntilAnswer<T>(ask: () => Promise<T>, done: (answer: T) => boolean, what: string): Promise<number> {
  return waitUntil(async () => done(await ask()), what);
}

const percentile = (sorted: number[], fraction: number) =>
  (sorted[Math.floor(fraction * (sorted.length - 1))] ?? NaN).toFixed(2);

test.serial('repeated validations of a cached token (HTTP and RPC) → one database read for all of them', async (t) => {
  const user = await registerUser(a().baseUrl);
  const token = await loginToken(a().baseUrl, user);
  const readsBefore = b().users.subjectReads;
  const queriesBefore = subjectQueries;
  const hitsBefore = b().subjectCache.stats.hits;

  const first = await validate(b(), token);
  const http: { valid: boolean }[] = [];
  const rpc: ValidateTokenReply[] = [];
  for (let i = 0; i < 50; i += 1) {
    http.push(await validate(b(), token));
    rpc.push(await rpcB(token));
  }

  t.like(first, { valid: true });
  t.true(http.every((answer) => answer.valid));
  t.like(rpc[0], { valid: true, user_id: user.id, username: user.username });
  t.true(rpc.every((answer) => JSON.stringify(answer) === JSON.stringify(rpc[0])));
  t.is(b().users.subjectReads - readsBefore, 1, 'one read through the repository');
  t.is(subjectQueries - queriesBefore, 1, 'one subject query reached PostgreSQL');
  t.is(b().subjectCache.stats.hits - hitsBefore, 100);
  t.log(`101 validations of one token: 1 database read (100 saved)`);
});

test.serial(
  'logout through A → B, which had the token cached, answers revoked over RPC; the user’s other token stays cached',
  async (t) => {
    const { tokens } = await cachedInB(2);
    const [token, other] = tokens as [string, string];
    t.like(await rpcB(token), { valid: true });
    const evictionsBefore = b().subscriber.stats.evictions;

    const sentAt = performance.now();
    const logout = await fetch(`${a().baseUrl}/logout`, { method: 'POST', headers: bearer(token) });
    const answeredAt = performance.now();
    const untilRevokedMs = await msUntilAnswer(
      () => rpcB(token),
      (answer) => 'valid' in answer && !answer.valid && answer.reason === 'revoked',
      'B to answer revoked',
    );

    const sinceSentMs = answeredAt - sentAt + untilRevokedMs;
    t.log(
      `B answered revoked ${untilRevokedMs.toFixed(2)} ms after A's 204 (${sinceSentMs.toFixed(2)} ms after the logout was sent)`,
    );
    t.is(logout.status, 204);
    t.deepEqual(await rpcB(token), { valid: false, reason: 'revoked' });
    t.like(await validate(b(), token), { valid: false, reason: 'revoked' });
    t.is(b().subscriber.stats.evictions - evictionsBefore, 1, 'the event evicted exactly that token');
    const readsBefore = b().users.subjectReads;
    t.like(await rpcB(other), { valid: true });
    t.is(b().users.subjectReads, readsBefore, "the user's other token stayed cached");
  },
);

test.serial(
  '20 logouts through A → each event applied at B, which then refuses the token (the delays logged)',
  async (t) => {
    const fromSent: number[] = [];
    const after204: number[] = [];
    for (let sample = 0; sample < 20; sample += 1) {
      const token = (await cachedInB()).tokens[0]!;
      const applied = b().subscriber.stats.applied;
      const sentAt = performance.now();
      const [logout, appliedMs] = await Promise.all([
        fetch(`${a().baseUrl}/logout`, { method: 'POST', headers: bearer(token) }).then((response) => ({
          status: response.status,
          receivedAt: performance.now(),
        })),
        waitUntil(() => b().subscriber.stats.applied > applied, 'the event at B'),
      ]);

      t.is(logout.status, 204);
      t.like(await validate(b(), token), { valid: false, reason: 'revoked' }, 'revoked at B once the event is applied');
      fromSent.push(appliedMs);
      // 0 when B had applied the event before the client even had A's answer.
      after204.push(Math.max(0, sentAt + appliedMs - logout.receivedAt));
    }

    fromSent.sort((x, y) => x - y);
    after204.sort((x, y) => x - y);
    t.log(
      `logout sent to A → event applied at B: p50 ${percentile(fromSent, 0.5)} ms, p95 ${percentile(fromSent, 0.95)} ms, max ${percentile(fromSent, 1)} ms`,
    );
    t.log(
      `A's 204 received → event applied at B: p50 ${percentile(after204, 0.5)} ms, p95 ${percentile(after204, 0.95)} ms, max ${percentile(after204, 1)} ms`,
    );
  },
);

test.serial(
  'deactivation through A → B answers user_inactive for every token of that user, both evicted',
  async (t) => {
    const { tokens } = await cachedInB(2);
    const [first, second] = tokens as [string, string];
    const evictionsBefore = b().subscriber.stats.evictions;

    const response = await fetch(`${a().baseUrl}/users/me`, {
      method: 'PATCH',
      headers: { ...bearer(first), 'content-type': 'application/json' },
      body: JSON.stringify({ is_active: false }),
    });
    const untilInactiveMs = await msUntilAnswer(
      () => rpcB(second),
      (answer) => 'valid' in answer && !answer.valid && answer.reason === 'user_inactive',
      'B to answer user_inactive',
    );

    t.log(`B answered user_inactive ${untilInactiveMs.toFixed(2)} ms after A's 200`);
    t.is(response.status, 200);
    t.deepEqual(await rpcB(second), { valid: false, reason: 'user_inactive' });
    t.like(await validate(b(), first), { valid: false, reason: 'user_inactive' });
    t.is(b().subscriber.stats.evictions - evictionsBefore, 2, 'both cached tokens of the user went');
  },
);

test.serial(
  'the instance that took the logout refuses the token at once: its own eviction, before its event comes back',
  async (t) => {
    const user = await registerUser(a().baseUrl);
    const token = await loginToken(a().baseUrl, user);
    t.like(await validate(a(), token), { valid: true });
    const localEvictions = a().subjectCache.stats.evictions.revocation;
    const { applied, evictions } = a().subscriber.stats;

    const logout = await fetch(`${a().baseUrl}/logout`, { method: 'POST', headers: bearer(token) });
    const immediately = await validate(a(), token);

    t.is(logout.status, 204);
    t.deepEqual(immediately, {
      valid: false,
      username: null,
      reason: 'revoked',
      message: 'The token has been revoked.',
    });
    t.is(a().subjectCache.stats.evictions.revocation - localEvictions, 1, 'evicted by the logout itself');
    await waitUntil(() => a().subscriber.stats.applied > applied, 'its own event');
    t.is(a().subscriber.stats.evictions - evictions, 0, 'its own event found nothing left to evict');
  },
);

test.serial(
  'a duplicate event (same id) → counted, evicts nothing; malformed messages → dropped and counted, the subscribers keep their channel',
  async (t) => {
    const {
      userId,
      tokens: [token],
    } = await cachedInB();
    const event = tokenRevokedEvent(userId, jtiOf(token!));
    const first = b().subscriber.stats;
    events().publish(event);
    await waitUntil(() => b().subscriber.stats.applied > first.applied, 'the first delivery');
    // The event was forged (nothing revoked in the database): the token is valid, and cached again.
    t.like(await validate(b(), token!), { valid: true });
    const before = b().subscriber.stats;
    const readsBefore = b().users.subjectReads;

    events().publishRaw(EVENT_TYPES.tokenRevoked, 'this is not json');
    events().publishRaw(
      EVENT_TYPES.tokenRevoked,
      JSON.stringify({ ...tokenRevokedEvent(userId), data: { user_id: 'seven' } }),
    );
    events().publishRaw(EVENT_TYPES.userDeactivated, JSON.stringify({ ...userDeactivatedEvent(userId), version: 2 }));
    events().publish(event);
    await waitUntil(() => b().subscriber.stats.duplicates > before.duplicates, 'the duplicate');

    t.like(await validate(b(), token!), { valid: true });
    t.is(b().users.subjectReads, readsBefore, 'the duplicate evicted nothing: still answered from the cache');
    t.is(b().subscriber.stats.malformed - before.malformed, 3, 'delivered in order: the three before it were dropped');
    t.like(b().subscriber.stats, { applied: before.applied, evictions: before.evictions, flushes: before.flushes });
    t.true(b().subscriber.isConsuming);
    await waitUntil(() => a().subscriber.stats.duplicates > 0, 'the duplicate at A');
    t.true(a().subscriber.stats.malformed >= 3, 'every instance sees every message');
  },
);

test.serial(
  'the broker closes B’s connection → after the reconnect B’s cache was flushed, and events reach its new queue with both bindings',
  async (t) => {
    const { tokens } = await cachedInB(2);
    const [kept, revoked] = tokens as [string, string];
    const { flushes } = b().subscriber.stats;
    const readsBefore = b().users.subjectReads;

    t.is(await ctx.env.closeBrokerConnections(b().connectionName), 1);
    await waitUntil(() => b().subscriber.stats.flushes === flushes + 1, 'the reconnect and its flush', {
      timeoutMs: 15_000,
    });

    t.is(b().subjectCache.size, 0);
    t.like(await rpcB(kept), { valid: true });
    t.is(b().users.subjectReads - readsBefore, 1, 'flushed: the token was read from the database again');
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
      .filter(([source, destination]) => source === b().subscriber.exchange && destination === b().subscriber.queue)
      .map(([, , routingKey]) => routingKey)
      .sort();
    t.deepEqual(routingKeys, [EVENT_TYPES.tokenRevoked, EVENT_TYPES.userDeactivated]);

    t.like(await validate(b(), revoked), { valid: true });
    const logout = await fetch(`${a().baseUrl}/logout`, { method: 'POST', headers: bearer(revoked) });
    const untilRevokedMs = await msUntilAnswer(
      () => validate(b(), revoked),
      (answer) => answer.reason === 'revoked',
      'B to refuse the token logged out through A',
    );
    t.log(`B refused it ${untilRevokedMs.toFixed(2)} ms after A's 204`);
    t.is(logout.status, 204);
    t.like(await validate(b(), revoked), { valid: false, reason: 'revoked' }, 'the event reached B’s new queue');
  },
);

test.serial(
  'an instance cut off from the broker → keeps answering from its cache, missing a logout made through A until its reconnect flushes (the documented trade-off)',
  async (t) => {
    const broker = new URL(ctx.env.amqpUrl);
    const cut = await TcpProxy.start({ targetHost: broker.hostname, targetPort: Number(broker.port || 5672) });
    proxy = cut;
    const c = await ctx.startAnother({
      AMQP_URL: cut.proxiedUrl(ctx.env.amqpUrl),
      AUTH_RPC_QUEUE: ctx.env.queueName('auth.validate_token.c'),
    });
    const user = await registerUser(a().baseUrl);
    const token = await loginToken(a().baseUrl, user);
    t.like(await validate(c, token), { valid: true });
    const { flushes } = c.subscriber.stats;

    cut.cut();
    await waitUntil(() => !c.subscriber.isConsuming, 'C to lose its broker connection');
    const logout = await fetch(`${a().baseUrl}/logout`, { method: 'POST', headers: bearer(token) });
    const whileCut = await validate(c, token);
    const other = await loginToken(a().baseUrl, user);
    const uncachedWhileCut = await validate(c, other);
    const health = await fetch(`${c.baseUrl}/health`);

    t.is(logout.status, 204);
    t.like(whileCut, { valid: true }, 'stale: C missed the event and its entry lives until TTL or reconnect');
    t.like(uncachedWhileCut, { valid: true }, 'a token C had not cached is read from the database');
    t.is(health.status, 200, 'still ready: it validates from its database');
    t.like(await health.json(), {
      status: 'degraded',
      checks: { auth_events: { status: 'down' }, database: { status: 'up' } },
    });

    const restoredAt = performance.now();
    cut.restore();
    await waitUntil(() => c.subscriber.stats.flushes === flushes + 1, 'the reconnect and its flush', {
      timeoutMs: 15_000,
    });
    t.log(`C flushed its cache ${(performance.now() - restoredAt).toFixed(0)} ms after the broker was reachable again`);
    t.like(await validate(c, token), { valid: false, reason: 'revoked' });
  },
);

test.serial(
  'TOKEN_SUBJECT_CACHE_TTL_MS=0 → every validation reads the database; with the cache, 200 RPCs read it not once (as /metrics counts them)',
  async (t) => {
    const uncachedInstance = await ctx.startAnother({
      TOKEN_SUBJECT_CACHE_TTL_MS: '0',
      AUTH_RPC_QUEUE: ctx.env.queueName('auth.validate_token.d'),
    });
    const probe = await RpcProbe.open(ctx.env.amqpUrl, uncachedInstance.queue);
    t.teardown(() => probe.close());
    const { tokens } = await cachedInB();
    const token = tokens[0]!;
    const uncachedReadsBefore = uncachedInstance.users.subjectReads;
    const cachedReadsBefore = b().users.subjectReads;
    const [uncachedBefore, cachedBefore] = await Promise.all([
      scrapeMetrics(uncachedInstance.baseUrl),
      scrapeMetrics(b().baseUrl),
    ]);

    const time = async (ask: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < 200; i += 1) {
        const started = performance.now();
        await ask();
        samples.push(performance.now() - started);
      }
      return samples.sort((x, y) => x - y);
    };
    const uncached = await time(() => probe.call({ token }));
    const cached = await time(() => rpcB(token));
    const [uncachedAfter, cachedAfter] = await Promise.all([
      scrapeMetrics(uncachedInstance.baseUrl),
      scrapeMetrics(b().baseUrl),
    ]);

    // What one RPC costs each instance: the RPCs it answered, and the database reads they took.
    const delta = (before: string, after: string, name: string, labels: Record<string, string> = {}) =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels);
    const costOf = (before: string, after: string) => ({
      rpcs: delta(before, after, 'rpc_server_requests_total', { outcome: 'valid' }),
      misses: delta(before, after, 'token_subject_cache_misses_total'),
      hits: delta(before, after, 'token_subject_cache_hits_total'),
    });
    t.deepEqual(costOf(uncachedBefore, uncachedAfter), { rpcs: 200, misses: 200, hits: 0 }, 'TTL 0: a read per RPC');
    t.deepEqual(costOf(cachedBefore, cachedAfter), { rpcs: 200, misses: 0, hits: 200 }, 'cached: no read at all');
    t.is(uncachedInstance.users.subjectReads - uncachedReadsBefore, 200);
    t.is(b().users.subjectReads - cachedReadsBefore, 0);
    t.is(uncachedInstance.subjectCache.size, 0);
    t.log(
      `RPC round trip, 200 sequential: cached p50 ${percentile(cached, 0.5)} ms, p99 ${percentile(cached, 0.99)} ms; ` +
        `TTL 0 p50 ${percentile(uncached, 0.5)} ms, p99 ${percentile(uncached, 0.99)} ms`,
    );
  },
);

test.serial('GET /health → reports the auth-events subscriber up on both instances', async (t) => {
  for (const service of [a(), b()]) {
    const response = await fetch(`${service.baseUrl}/health`);
    t.is(response.status, 200);
    t.like(await response.json(), {
      checks: {
        auth_events: {
          status: 'up',
          exchange: ctx.service.config.amqp.authEventsExchange,
          queue: service.subscriber.queue,
        },
      },
    });
  }
});
