import test from 'ava';
import fc from 'fast-check';
import { createHash } from 'node:crypto';

import { ServiceUnavailableError, UnauthorizedError } from '@shop/shared-runtime';

import type { AuthCacheEvictionReason, AuthCacheObserver } from '../../src/metrics';
import {
  CachedTokenValidator,
  DEFAULT_REVOCATION_SETTLE_MS,
  tokenCacheKey,
} from '../../src/services/cached-token-validator';
import type { AuthenticatedUser, TokenValidator } from '../../src/services/token-validator';

/** The fake clock's start, in ms since the epoch. */
const T0 = 1_700_000_000_000;
const context = { requestId: 'req-1' };

/** One question the fake was asked, answered when the test says. */
interface PendingCall {
  token: string;
  resolve(user: AuthenticatedUser): void;
  reject(error: Error): void;
}

/** A TokenValidator whose calls wait until the test answers them. */
class ControlledValidator implements TokenValidator {
  readonly calls: PendingCall[] = [];

  validate(token: string): Promise<AuthenticatedUser> {
    return new Promise((resolve, reject) => {
      this.calls.push({ token, resolve, reject });
    });
  }

  /** The call made `index`-th from the start; throws when there is none. */
  call(index: number): PendingCall {
    const call = this.calls[index];
    if (!call) throw new Error(`no inner call #${index}`);
    return call;
  }
}

/** A TokenValidator answering at once with whatever `answer` returns. */
class ImmediateValidator implements TokenValidator {
  calls = 0;

  constructor(private readonly answer: (token: string) => Promise<AuthenticatedUser>) {}

  validate(token: string): Promise<AuthenticatedUser> {
    this.calls += 1;
    return this.answer(token);
  }
}

class FakeClock {
  ms = T0;
  readonly now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

function userOf(userId: number, expiresAtMs = T0 + 3_600_000): AuthenticatedUser {
  return { userId, username: `user${userId}`, expiresAt: new Date(expiresAtMs) };
}

/** Lets the validator's `then` callbacks run (they store answers). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function build(options: {
  ttlMs?: number;
  maxEntries?: number;
  inner?: TokenValidator;
  observer?: AuthCacheObserver;
  revocationSettleMs?: number;
}) {
  const clock = new FakeClock();
  const inner = options.inner ?? new ImmediateValidator(() => Promise.resolve(userOf(7)));
  const cache = new CachedTokenValidator({
    inner,
    ttlMs: options.ttlMs ?? 30_000,
    maxEntries: options.maxEntries ?? 100,
    now: clock.now,
    // 0 unless a test is about it: the other tests evict and then expect answers to be stored.
    revocationSettleMs: options.revocationSettleMs ?? 0,
    ...(options.observer ? { observer: options.observer } : {}),
  });
  return { cache, clock };
}

test('tokenCacheKey → the SHA-256 of the token, base64url: tokens themselves are never kept', (t) => {
  const token = 'header.payload.signature';

  t.is(tokenCacheKey(token), createHash('sha256').update(token).digest('base64url'));
  t.regex(tokenCacheKey(token), /^[A-Za-z0-9_-]{43}$/);
  t.not(tokenCacheKey(token), tokenCacheKey(`${token}x`));
});

test('a second validation within the TTL → answered from the cache without asking again', async (t) => {
  const inner = new ImmediateValidator(() => Promise.resolve(userOf(7)));
  const { cache } = build({ inner });

  const first = await cache.validate('tok', context);
  const second = await cache.validate('tok', context);

  t.deepEqual(second, first);
  t.is(inner.calls, 1);
  t.like(cache.stats, { hits: 1, misses: 1, shared: 0, entries: 1 });
});

test('a hit is served until asked + TTL and refused from that instant on', async (t) => {
  const inner = new ImmediateValidator(() => Promise.resolve(userOf(7)));
  const { cache, clock } = build({ inner, ttlMs: 1000 });
  await cache.validate('tok', context);

  clock.advance(999);
  await cache.validate('tok', context);
  t.is(inner.calls, 1, 'still fresh 1 ms before the TTL ends');

  clock.advance(1);
  await cache.validate('tok', context);
  t.is(inner.calls, 2, 'asked again exactly at asked + TTL');
  t.is(cache.stats.evictions.expired, 1);
});

test('a hit never outlives the token: refused from its exp on, even with a longer TTL', async (t) => {
  const inner = new ImmediateValidator(() => Promise.resolve(userOf(7, T0 + 500)));
  const { cache, clock } = build({ inner, ttlMs: 60_000 });
  await cache.validate('tok', context);

  clock.advance(499);
  await cache.validate('tok', context);
  t.is(inner.calls, 1);

  clock.advance(1);
  await cache.validate('tok', context);
  t.is(inner.calls, 2, 'asked again at the exp');
});

test('the TTL counts from when the question was asked, not from when the answer came', async (t) => {
  const inner = new ControlledValidator();
  const { cache, clock } = build({ inner, ttlMs: 1000 });
  const pending = cache.validate('tok', context);
  clock.advance(800);
  inner.call(0).resolve(userOf(7));
  await pending;

  clock.advance(199);
  const hit = cache.validate('tok', context);
  t.is(inner.calls.length, 1, 'fresh until asked + 999 ms');
  await hit;
  clock.advance(1);
  void cache.validate('tok', context);
  t.is(inner.calls.length, 2, 'stale at asked + 1000 ms although answered only 200 ms ago');
});

test('an answer whose token already expired → returned, not stored', async (t) => {
  const inner = new ImmediateValidator(() => Promise.resolve(userOf(7, T0 - 1)));
  const { cache } = build({ inner });

  t.is((await cache.validate('tok', context)).userId, 7);
  await cache.validate('tok', context);

  t.is(inner.calls, 2);
  t.is(cache.size, 0);
});

test('100 concurrent validations of one token → one inner call; all 100 get the user', async (t) => {
  const inner = new ControlledValidator();
  const { cache } = build({ inner });

  const validations = Array.from({ length: 100 }, () => cache.validate('tok', context));
  inner.call(0).resolve(userOf(7));
  const users = await Promise.all(validations);

  t.is(inner.calls.length, 1);
  t.true(users.every((user) => user.userId === 7));
  t.like(cache.stats, { misses: 1, shared: 99, hits: 0, entries: 1 });
});

test('evictUser while its call is in flight → the callers get the user, the answer is not cached', async (t) => {
  const inner = new ControlledValidator();
  const { cache } = build({ inner });
  const waiting = [cache.validate('tok', context), cache.validate('tok', context)];

  t.is(cache.evictUser(7), 0);
  inner.call(0).resolve(userOf(7));
  const users = await Promise.all(waiting);

  t.deepEqual(
    users.map((user) => user.userId),
    [7, 7],
  );
  t.is(cache.size, 0);
  t.is(cache.stats.discardedAnswers, 1);
  void cache.validate('tok', context);
  t.is(inner.calls.length, 2, 'the next validation asks again');
});

test("evicting another user while a call is in flight → this user's answer is still cached", async (t) => {
  const inner = new ControlledValidator();
  const { cache } = build({ inner });
  const pending = cache.validate('tok', context);

  cache.evictUser(8);
  inner.call(0).resolve(userOf(7));
  await pending;

  t.is(cache.size, 1);
  await cache.validate('tok', context);
  t.is(inner.calls.length, 1);
});

test('flush while a call is in flight → its answer is returned, not cached', async (t) => {
  const inner = new ControlledValidator();
  const { cache } = build({ inner });
  const pending = cache.validate('tok', context);

  cache.flush();
  inner.call(0).resolve(userOf(7));

  t.is((await pending).userId, 7);
  t.is(cache.size, 0);
});

test('a validation arriving after an eviction never joins a call asked before it', async (t) => {
  const inner = new ControlledValidator();
  const { cache } = build({ inner });
  const before = cache.validate('tok', context);

  cache.evictUser(7);
  const after = cache.validate('tok', context);
  inner.call(0).resolve(userOf(7));
  inner.call(1).reject(new UnauthorizedError('The bearer token has been revoked.'));

  t.is((await before).userId, 7);
  await t.throwsAsync(after, { instanceOf: UnauthorizedError });
  t.is(inner.calls.length, 2);
  t.is(cache.size, 0);
});

test('TTL 0 → nothing is stored, but concurrent validations still share one call', async (t) => {
  const inner = new ControlledValidator();
  const { cache } = build({ inner, ttlMs: 0 });

  const concurrent = Array.from({ length: 10 }, () => cache.validate('tok', context));
  inner.call(0).resolve(userOf(7));
  await Promise.all(concurrent);
  void cache.validate('tok', context);

  t.is(inner.calls.length, 2);
  t.is(cache.size, 0);
  t.like(cache.stats, { misses: 2, shared: 9, hits: 0 });
});

for (const [label, error] of [
  ['a refusal (401)', new UnauthorizedError('The bearer token has been revoked.')],
  ['a failure (503)', new ServiceUnavailableError('The authentication service cannot be reached right now.')],
] as const) {
  test(`${label} → shared with the callers waiting then, never cached`, async (t) => {
    const inner = new ControlledValidator();
    const { cache } = build({ inner });
    const waiting = [cache.validate('tok', context), cache.validate('tok', context)];

    inner.call(0).reject(error);
    for (const validation of waiting) t.is(await t.throwsAsync(validation), error);
    void cache.validate('tok', context).catch(() => undefined);

    t.is(inner.calls.length, 2, 'the next validation asks again');
    t.is(cache.size, 0);
  });
}

test('for revocationSettleMs after evictUser, answers for that user are returned but not stored', async (t) => {
  // Another user-service instance may not have applied the same revocation yet and answer
  // "valid" from its own cache: such an answer must not be kept for a whole TTL.
  const inner = new ImmediateValidator((token) => Promise.resolve(userOf(token.startsWith('seven') ? 7 : 8)));
  const { cache, clock } = build({ inner, revocationSettleMs: 2000 });
  cache.evictUser(7);

  await cache.validate('seven-a', context);
  await settle();
  await cache.validate('seven-a', context);
  t.is(inner.calls, 2, 'user 7: asked again, not stored');
  t.is(cache.stats.discardedAnswers, 2);

  await cache.validate('eight', context);
  await settle();
  await cache.validate('eight', context);
  t.is(inner.calls, 3, 'another user: stored as usual');

  clock.advance(2001);
  await cache.validate('seven-a', context);
  await settle();
  await cache.validate('seven-a', context);
  t.is(inner.calls, 4, 'user 7 after the settle time: stored again');
});

test('without a settle time given, answers are not stored for DEFAULT_REVOCATION_SETTLE_MS (2 s)', async (t) => {
  const clock = new FakeClock();
  const inner = new ImmediateValidator(() => Promise.resolve(userOf(7)));
  const cache = new CachedTokenValidator({ inner, ttlMs: 30_000, maxEntries: 10, now: clock.now });
  cache.evictUser(7);
  clock.advance(DEFAULT_REVOCATION_SETTLE_MS - 1);
  await cache.validate('token', context);
  await settle();
  await cache.validate('token', context);
  t.is(inner.calls, 2);
  clock.advance(2);
  await cache.validate('token', context);
  await settle();
  await cache.validate('token', context);
  t.is(inner.calls, 3);
  t.is(DEFAULT_REVOCATION_SETTLE_MS, 2000);
});

test('evictUser → removes every entry of that user and only those; flush → everything', async (t) => {
  const owners: Record<string, number> = { a1: 1, a2: 1, a3: 1, b1: 2, c1: 3 };
  const inner = new ImmediateValidator((token) => Promise.resolve(userOf(owners[token] ?? 0)));
  const { cache } = build({ inner });
  for (const token of Object.keys(owners)) await cache.validate(token, context);

  t.is(cache.evictUser(1), 3);
  t.is(cache.evictUser(1), 0);
  t.is(cache.size, 2);
  await cache.validate('b1', context);
  t.is(inner.calls, 5, "another user's entry survived");

  t.is(cache.flush(), 2);
  t.is(cache.size, 0);
  t.like(cache.stats.evictions, { revocation: 3, flush: 2 });
});

test('never more than maxEntries; the least recently used goes first', async (t) => {
  const inner = new ImmediateValidator((token) => Promise.resolve(userOf(Number(token.slice(1)))));
  const { cache } = build({ inner, maxEntries: 2 });
  await cache.validate('u1', context);
  await cache.validate('u2', context);
  await cache.validate('u1', context);

  await cache.validate('u3', context);

  t.is(cache.size, 2);
  t.is(cache.stats.evictions.capacity, 1);
  await cache.validate('u1', context);
  t.is(inner.calls, 3, 'u1, recently used, stayed');
  await cache.validate('u2', context);
  t.is(inner.calls, 4, 'u2, least recently used, went');
  t.is(cache.evictUser(2), 1, 'the user index followed the LRU eviction');
});

test('the observer is told of hits, misses, shared calls and evictions by reason', async (t) => {
  const seen: string[] = [];
  const observer: AuthCacheObserver = {
    hit: () => seen.push('hit'),
    miss: () => seen.push('miss'),
    shared: () => seen.push('shared'),
    evicted: (reason: AuthCacheEvictionReason, count: number) => seen.push(`evicted ${reason} ${count}`),
  };
  const inner = new ControlledValidator();
  const { cache } = build({ inner, observer });

  const both = [cache.validate('tok', context), cache.validate('tok', context)];
  inner.call(0).resolve(userOf(7));
  await Promise.all(both);
  await cache.validate('tok', context);
  cache.evictUser(7);
  cache.flush();

  t.deepEqual(seen, ['miss', 'shared', 'hit', 'evicted revocation 1']);
});

// The property: checked against a model of its rules, the cache never serves what it may not.

/** Tokens of the property, `tok0`…; token i belongs to user (i % USERS) + 1. */
const TOKENS = 6;
const USERS = 3;
const userIdOf = (token: number) => (token % USERS) + 1;

type Operation =
  | { op: 'validate'; token: number }
  | { op: 'answer'; pick: number; outcome: 'valid' | 'refused' | 'unavailable' }
  | { op: 'advance'; ms: number }
  /** Moves the clock to 1 ms before, or exactly onto, the expiry of one of the model's entries. */
  | { op: 'advanceToExpiry'; pick: number; early: 0 | 1 }
  | { op: 'evictUser'; userId: number }
  | { op: 'flush' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('validate' as const), token: fc.nat(TOKENS - 1) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('answer' as const),
      pick: fc.nat(20),
      outcome: fc.constantFrom('valid' as const, 'valid' as const, 'refused' as const, 'unavailable' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      // Small steps land on the exact boundaries; large ones jump past TTLs and expiries.
      ms: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 25_000 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('advanceToExpiry' as const),
      pick: fc.nat(10),
      early: fc.constantFrom(0, 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('evictUser' as const), userId: fc.integer({ min: 1, max: USERS }) }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
);

/** A question in flight, as the model sees it. */
interface ModelCall {
  token: number;
  askedAtMs: number;
  /** A flush, or an eviction of the token's user, happened after it was asked. */
  overtaken: boolean;
}

test('property: a hit only ever serves a validation asked < TTL ago, before the token exp, and not evicted since', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 20_000 })),
      fc.integer({ min: 1, max: TOKENS + 2 }),
      // Each token's exp relative to the start: some already expired, some about to, some far off.
      fc.array(fc.oneof(fc.integer({ min: -3, max: 10 }), fc.integer({ min: -1000, max: 60_000 })), {
        minLength: TOKENS,
        maxLength: TOKENS,
      }),
      // size 'max': the default favours arrays of a handful of operations.
      fc.array(operation, { maxLength: 80, size: 'max' }),
      async (ttlMs, maxEntries, expOffsets, operations) => {
        const inner = new ControlledValidator();
        const { cache, clock } = build({ inner, ttlMs, maxEntries });
        const expOf = (token: number) => T0 + (expOffsets[token] ?? 0);
        /** Roomy enough that lru-cache never pushes anything out: the model must then match exactly. */
        const roomy = maxEntries >= TOKENS;

        // The model: what may be served from the cache (entries), which call a validation may join.
        const entries = new Map<number, number>(); // token → expiresAtMs
        const joinable = new Map<number, ModelCall>();
        const inFlight: ModelCall[] = []; // in the order of the inner calls still unanswered
        const innerCallOf = new Map<ModelCall, PendingCall>();
        const results: Promise<unknown>[] = [];

        for (const step of operations) {
          switch (step.op) {
            case 'validate': {
              const before = cache.stats;
              const callsBefore = inner.calls.length;
              const validation = cache.validate(`tok${step.token}`, context);
              results.push(
                validation.then(
                  (user) => {
                    if (user.userId !== userIdOf(step.token)) throw new Error(`tok${step.token} got another user`);
                  },
                  () => undefined,
                ),
              );
              const after = cache.stats;
              const expiresAtMs = entries.get(step.token);
              const fresh = expiresAtMs !== undefined && clock.ms < expiresAtMs;
              const join = joinable.get(step.token);
              if (after.hits > before.hits) {
                if (!fresh)
                  throw new Error(`tok${step.token} served at ${clock.ms - T0} past ${expiresAtMs ?? 'none'}`);
              } else if (after.shared > before.shared) {
                if (!join) throw new Error(`tok${step.token} joined a call it may not join`);
                if (roomy && fresh) throw new Error(`tok${step.token} joined instead of hitting`);
              } else {
                if (inner.calls.length !== callsBefore + 1) throw new Error('a miss without an inner call');
                if (join) throw new Error(`tok${step.token} asked again although a call was joinable`);
                if (roomy && fresh) throw new Error(`tok${step.token} asked again although fresh`);
                const call: ModelCall = { token: step.token, askedAtMs: clock.ms, overtaken: false };
                joinable.set(step.token, call);
                inFlight.push(call);
                innerCallOf.set(call, inner.call(callsBefore));
              }
              break;
            }
            case 'answer': {
              if (inFlight.length === 0) break;
              const [call] = inFlight.splice(step.pick % inFlight.length, 1);
              if (!call) break;
              if (joinable.get(call.token) === call) joinable.delete(call.token);
              const pending = innerCallOf.get(call)!;
              if (step.outcome === 'valid') {
                pending.resolve(userOf(userIdOf(call.token), expOf(call.token)));
                const expiresAtMs = Math.min(call.askedAtMs + ttlMs, expOf(call.token));
                if (ttlMs > 0 && !call.overtaken && expiresAtMs > clock.ms) entries.set(call.token, expiresAtMs);
              } else {
                pending.reject(
                  step.outcome === 'refused'
                    ? new UnauthorizedError('The bearer token has been revoked.')
                    : new ServiceUnavailableError('The authentication service cannot be reached right now.'),
                );
              }
              await settle();
              break;
            }
            case 'advance':
              clock.advance(step.ms);
              break;
            case 'advanceToExpiry': {
              const ahead = [...entries.values()].filter((expiresAtMs) => expiresAtMs - step.early > clock.ms);
              const target = ahead[step.pick % Math.max(ahead.length, 1)];
              if (target !== undefined) clock.ms = target - step.early;
              break;
            }
            case 'evictUser':
              cache.evictUser(step.userId);
              for (const token of [...entries.keys()]) if (userIdOf(token) === step.userId) entries.delete(token);
              for (const call of inFlight) if (userIdOf(call.token) === step.userId) call.overtaken = true;
              joinable.clear();
              break;
            case 'flush':
              cache.flush();
              entries.clear();
              for (const call of inFlight) call.overtaken = true;
              joinable.clear();
              break;
          }
          if (cache.size > maxEntries) throw new Error(`${cache.size} entries with maxEntries ${maxEntries}`);
        }
        for (const call of inFlight) innerCallOf.get(call)?.reject(new ServiceUnavailableError('end of the run'));
        await Promise.all(results);
      },
    ),
    { numRuns: 500 },
  );
  t.pass();
});
