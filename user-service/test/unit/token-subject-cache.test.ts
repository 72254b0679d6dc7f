import test from 'ava';
import fc from 'fast-check';

import { ServiceUnavailableError } from '@shop/shared-runtime';

import type { SubjectCacheEvictionReason, SubjectCacheObserver } from '../../src/metrics';
import type { TokenSubject } from '../../src/repositories/user.repository';
import { TokenSubjectCache, subjectKey, type TokenClaims } from '../../src/services/token-subject-cache';

/** The fake clock's start, in ms since the epoch. */
const T0 = 1_700_000_000_000;

/** One subject read the fake store was asked for, answered when the test says. */
interface PendingRead {
  userId: number;
  jti: string;
  resolve(subject: TokenSubject | null): void;
  reject(error: Error): void;
}

/** A user store whose subject reads wait until the test answers them. */
class ControlledStore {
  readonly reads: PendingRead[] = [];

  findTokenSubject(userId: number, jti: string): Promise<TokenSubject | null> {
    return new Promise((resolve, reject) => {
      this.reads.push({ userId, jti, resolve, reject });
    });
  }

  /** The read made `index`-th from the start; throws when there is none. */
  read(index: number): PendingRead {
    const read = this.reads[index];
    if (!read) throw new Error(`no subject read #${index}`);
    return read;
  }
}

/** A user store answering at once with whatever `answer` returns. */
class ImmediateStore {
  reads = 0;

  constructor(private readonly answer: (userId: number, jti: string) => TokenSubject | null = activeSubject) {}

  findTokenSubject(userId: number, jti: string): Promise<TokenSubject | null> {
    this.reads += 1;
    return Promise.resolve(this.answer(userId, jti));
  }
}

class FakeClock {
  ms = T0;
  readonly now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

function activeSubject(userId: number): TokenSubject {
  return { id: userId, username: `user${userId}`, isActive: true, revoked: false };
}

/** The claims of token `jti` of `userId`, expiring at `expiresAtMs` (an hour after T0 by default). */
function claims(userId: number, jti: string, expiresAtMs = T0 + 3_600_000): TokenClaims {
  return { userId, jti, expiresAt: new Date(expiresAtMs) };
}

/** Lets the cache's `then` callbacks run (they store answers). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function build(options: {
  ttlMs?: number;
  maxEntries?: number;
  store?: ControlledStore | ImmediateStore;
  observer?: SubjectCacheObserver;
}) {
  const clock = new FakeClock();
  const store = options.store ?? new ImmediateStore();
  const cache = new TokenSubjectCache({
    users: store,
    ttlMs: options.ttlMs ?? 5000,
    maxEntries: options.maxEntries ?? 100,
    now: clock.now,
    ...(options.observer ? { observer: options.observer } : {}),
  });
  return { cache, clock };
}

test('subjectKey → user id and jti: the same token always has the same key, another token another', (t) => {
  t.is(subjectKey(7, 'a1b2'), '7:a1b2');
  t.not(subjectKey(7, 'a1b2'), subjectKey(8, 'a1b2'));
});

test('a second read within the TTL → answered from the cache without reading again', async (t) => {
  const store = new ImmediateStore();
  const { cache } = build({ store });

  const first = await cache.read(claims(7, 'j1'));
  const second = await cache.read(claims(7, 'j1'));

  t.deepEqual(second, first);
  t.is(store.reads, 1);
  t.like(cache.stats, { hits: 1, misses: 1, shared: 0, entries: 1 });
});

test('a hit is served until read began + TTL and refused from that instant on', async (t) => {
  const store = new ImmediateStore();
  const { cache, clock } = build({ store, ttlMs: 1000 });
  await cache.read(claims(7, 'j1'));

  clock.advance(999);
  await cache.read(claims(7, 'j1'));
  t.is(store.reads, 1, 'still fresh 1 ms before the TTL ends');

  clock.advance(1);
  await cache.read(claims(7, 'j1'));
  t.is(store.reads, 2, 'read again exactly at read began + TTL');
  t.is(cache.stats.evictions.expired, 1);
});

test('a hit never outlives the token: refused from its exp on, even with a longer TTL', async (t) => {
  const store = new ImmediateStore();
  const { cache, clock } = build({ store, ttlMs: 60_000 });
  await cache.read(claims(7, 'j1', T0 + 500));

  clock.advance(499);
  await cache.read(claims(7, 'j1', T0 + 500));
  t.is(store.reads, 1);

  clock.advance(1);
  await cache.read(claims(7, 'j1', T0 + 500));
  t.is(store.reads, 2, 'read again at the exp');
});

test('the TTL counts from when the read began, not from when it answered', async (t) => {
  const store = new ControlledStore();
  const { cache, clock } = build({ store, ttlMs: 1000 });
  const pending = cache.read(claims(7, 'j1'));
  clock.advance(800);
  store.read(0).resolve(activeSubject(7));
  await pending;

  clock.advance(199);
  const hit = cache.read(claims(7, 'j1'));
  t.is(store.reads.length, 1, 'fresh until read began + 999 ms');
  await hit;
  clock.advance(1);
  void cache.read(claims(7, 'j1'));
  t.is(store.reads.length, 2, 'stale at read began + 1000 ms although answered only 200 ms ago');
});

test('a subject of a token that already expired → returned, not stored', async (t) => {
  const store = new ImmediateStore();
  const { cache } = build({ store });

  t.is((await cache.read(claims(7, 'j1', T0 - 1)))?.id, 7);
  await cache.read(claims(7, 'j1', T0 - 1));

  t.is(store.reads, 2);
  t.is(cache.size, 0);
});

test('100 concurrent reads of one token → one database read; all 100 get the subject', async (t) => {
  const store = new ControlledStore();
  const { cache } = build({ store });

  const reads = Array.from({ length: 100 }, () => cache.read(claims(7, 'j1')));
  store.read(0).resolve(activeSubject(7));
  const subjects = await Promise.all(reads);

  t.is(store.reads.length, 1);
  t.true(subjects.every((subject) => subject?.id === 7));
  t.like(cache.stats, { misses: 1, shared: 99, hits: 0, entries: 1 });
});

for (const [label, subject] of [
  ['a revoked token', { ...activeSubject(7), revoked: true }],
  ['an inactive user', { ...activeSubject(7), isActive: false }],
  ['a missing user', null],
] as const) {
  test(`${label} → shared with the reads waiting then, never cached (refusals are final)`, async (t) => {
    const store = new ControlledStore();
    const { cache } = build({ store });
    const waiting = [cache.read(claims(7, 'j1')), cache.read(claims(7, 'j1'))];

    store.read(0).resolve(subject);
    t.deepEqual(await Promise.all(waiting), [subject, subject]);
    void cache.read(claims(7, 'j1'));

    t.is(store.reads.length, 2, 'the next validation reads again');
    t.is(cache.size, 0);
  });
}

test('a failed read (database down) → shared with the reads waiting then, never cached', async (t) => {
  const store = new ControlledStore();
  const { cache } = build({ store });
  const error = new ServiceUnavailableError('The user store is unavailable right now.');
  const waiting = [cache.read(claims(7, 'j1')), cache.read(claims(7, 'j1'))];

  store.read(0).reject(error);
  for (const read of waiting) t.is(await t.throwsAsync(read), error);
  void cache.read(claims(7, 'j1')).catch(() => undefined);

  t.is(store.reads.length, 2);
  t.is(cache.size, 0);
});

test('evictToken while its read is in flight → the waiting reads get the subject; it is not cached and not joinable', async (t) => {
  const store = new ControlledStore();
  const { cache } = build({ store });
  const waiting = [cache.read(claims(7, 'j1')), cache.read(claims(7, 'j1'))];

  t.is(cache.evictToken('j1'), 0);
  const after = cache.read(claims(7, 'j1'));
  store.read(0).resolve(activeSubject(7));
  store.read(1).resolve({ ...activeSubject(7), revoked: true });

  t.deepEqual(
    (await Promise.all(waiting)).map((subject) => subject?.revoked),
    [false, false],
  );
  t.like(await after, { revoked: true }, 'the read after the eviction did not join the one before');
  t.is(store.reads.length, 2);
  t.is(cache.size, 0);
  t.is(cache.stats.discardedReads, 1);
});

test('evicting another token, or another user, while a read is in flight → this read stays joinable and is cached', async (t) => {
  const store = new ControlledStore();
  const { cache } = build({ store });
  const first = cache.read(claims(7, 'j1'));

  cache.evictToken('j2');
  cache.evictUser(8);
  const joined = cache.read(claims(7, 'j1'));
  store.read(0).resolve(activeSubject(7));
  await Promise.all([first, joined]);

  t.is(store.reads.length, 1);
  t.is(cache.stats.shared, 1);
  t.is(cache.size, 1);
});

test('evictUser while a read of one of its tokens is in flight → returned, not cached, not joinable', async (t) => {
  const store = new ControlledStore();
  const { cache } = build({ store });
  const before = cache.read(claims(7, 'j1'));

  cache.evictUser(7);
  const after = cache.read(claims(7, 'j1'));
  store.read(0).resolve(activeSubject(7));
  store.read(1).resolve({ ...activeSubject(7), isActive: false });

  t.like(await before, { isActive: true });
  t.like(await after, { isActive: false });
  t.is(cache.size, 0);
});

test('flush while a read is in flight → its subject is returned, not cached, and later reads do not join it', async (t) => {
  const store = new ControlledStore();
  const { cache } = build({ store });
  const pending = cache.read(claims(7, 'j1'));

  cache.flush();
  void cache.read(claims(7, 'j1'));
  store.read(0).resolve(activeSubject(7));

  t.is((await pending)?.id, 7);
  t.is(store.reads.length, 2);
  t.is(cache.size, 0);
});

test('evictToken → exactly that token; evictUser → every token of that user and only those; flush → everything', async (t) => {
  const store = new ImmediateStore();
  const { cache } = build({ store });
  const tokens: [number, string][] = [
    [1, 'a1'],
    [1, 'a2'],
    [1, 'a3'],
    [2, 'b1'],
    [3, 'c1'],
  ];
  for (const [userId, jti] of tokens) await cache.read(claims(userId, jti));

  t.is(cache.evictToken('a1'), 1);
  t.is(cache.evictToken('a1'), 0);
  t.is(cache.evictUser(1), 2);
  t.is(cache.evictUser(1), 0);
  t.is(cache.size, 2);
  await cache.read(claims(2, 'b1'));
  t.is(store.reads, 5, "another user's entry survived");

  t.is(cache.flush(), 2);
  t.is(cache.size, 0);
  t.like(cache.stats.evictions, { revocation: 1, deactivation: 2, flush: 2 });
  t.is(cache.evictUser(2), 0, 'the indexes were emptied with the cache');
});

test('never more than maxEntries; the least recently used goes first, and the indexes follow', async (t) => {
  const store = new ImmediateStore();
  const { cache } = build({ store, maxEntries: 2 });
  await cache.read(claims(1, 'u1'));
  await cache.read(claims(2, 'u2'));
  await cache.read(claims(1, 'u1'));

  await cache.read(claims(3, 'u3'));

  t.is(cache.size, 2);
  t.is(cache.stats.evictions.capacity, 1);
  await cache.read(claims(1, 'u1'));
  t.is(store.reads, 3, 'u1, recently used, stayed');
  t.is(cache.evictToken('u2'), 0, 'u2, least recently used, went, and left the jti index');
  t.is(cache.evictUser(2), 0, 'and the user index');
  t.is(cache.evictToken('u1'), 1);
});

test('TTL 0 → nothing is stored, but concurrent reads still share one database read', async (t) => {
  const store = new ControlledStore();
  const { cache } = build({ store, ttlMs: 0 });

  const concurrent = Array.from({ length: 10 }, () => cache.read(claims(7, 'j1')));
  store.read(0).resolve(activeSubject(7));
  await Promise.all(concurrent);
  void cache.read(claims(7, 'j1'));

  t.is(store.reads.length, 2);
  t.is(cache.size, 0);
  t.like(cache.stats, { misses: 2, shared: 9, hits: 0 });
});

test('the observer is told of hits, misses, shared reads and evictions by reason', async (t) => {
  const seen: string[] = [];
  const observer: SubjectCacheObserver = {
    hit: () => seen.push('hit'),
    miss: () => seen.push('miss'),
    shared: () => seen.push('shared'),
    evicted: (reason: SubjectCacheEvictionReason, count: number) => seen.push(`evicted ${reason} ${count}`),
  };
  const store = new ControlledStore();
  const { cache } = build({ store, observer });

  const both = [cache.read(claims(7, 'j1')), cache.read(claims(7, 'j1'))];
  store.read(0).resolve(activeSubject(7));
  await Promise.all(both);
  await cache.read(claims(7, 'j1'));
  cache.evictToken('j1');
  const again = cache.read(claims(7, 'j2'));
  store.read(1).resolve(activeSubject(7));
  await again;
  cache.evictUser(7);
  cache.flush();

  t.deepEqual(seen, ['miss', 'shared', 'hit', 'evicted revocation 1', 'miss', 'evicted deactivation 1']);
});

// The property: checked against a model of its rules, the cache never serves what it may not.

/** Tokens of the property, jti `j0`…; token i belongs to user (i % USERS) + 1. */
const TOKENS = 6;
const USERS = 3;
const userIdOf = (token: number) => (token % USERS) + 1;

/** How a read answers: a subject that makes the token valid, a refusal, or a database failure. */
type Outcome = 'valid' | 'revoked' | 'inactive' | 'missing' | 'failure';

type Operation =
  | { op: 'read'; token: number }
  | { op: 'answer'; pick: number; outcome: Outcome }
  | { op: 'advance'; ms: number }
  /** Moves the clock to 1 ms before, or exactly onto, the expiry of one of the model's entries. */
  | { op: 'advanceToExpiry'; pick: number; early: 0 | 1 }
  | { op: 'evictToken'; token: number }
  | { op: 'evictUser'; userId: number }
  | { op: 'flush' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('read' as const), token: fc.nat(TOKENS - 1) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('answer' as const),
      pick: fc.nat(20),
      outcome: fc.constantFrom<Outcome>('valid', 'valid', 'valid', 'revoked', 'inactive', 'missing', 'failure'),
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
      early: fc.constantFrom<0 | 1>(0, 1),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('evictToken' as const), token: fc.nat(TOKENS - 1) }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('evictUser' as const), userId: fc.integer({ min: 1, max: USERS }) }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
);

/** A read in flight, as the model sees it. */
interface ModelRead {
  token: number;
  beganAtMs: number;
  /** An eviction of its token or user, or a flush, happened after it began. */
  overtaken: boolean;
  /** How it answered; undefined while in flight. */
  outcome?: Outcome;
}

/** What a read answering `outcome` for `token` resolves to (or undefined for a failure). */
function subjectFor(token: number, outcome: Outcome): TokenSubject | null | undefined {
  const subject = activeSubject(userIdOf(token));
  switch (outcome) {
    case 'valid':
      return subject;
    case 'revoked':
      return { ...subject, revoked: true };
    case 'inactive':
      return { ...subject, isActive: false };
    case 'missing':
      return null;
    case 'failure':
      return undefined;
  }
}

test('property: a hit only ever serves a valid subject read < TTL ago, before the token exp, and not evicted since; reads share only what they may', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        { weight: 1, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }) },
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 20_000 }) },
      ),
      fc.integer({ min: 1, max: TOKENS + 2 }),
      // Each token's exp relative to the start: some already expired, some about to, most far off.
      fc.array(
        fc.oneof(
          { weight: 1, arbitrary: fc.integer({ min: -3, max: 10 }) },
          { weight: 3, arbitrary: fc.integer({ min: -1000, max: 60_000 }) },
        ),
        { minLength: TOKENS, maxLength: TOKENS },
      ),
      // size 'max': the default favours arrays of a handful of operations.
      fc.array(operation, { maxLength: 80, size: 'max' }),
      async (ttlMs, maxEntries, expOffsets, operations) => {
        const store = new ControlledStore();
        const { cache, clock } = build({ store, ttlMs, maxEntries });
        const claimsOf = (token: number) => claims(userIdOf(token), `j${token}`, T0 + (expOffsets[token] ?? 0));
        /** Roomy enough that lru-cache never pushes anything out: the model must then match exactly. */
        const roomy = maxEntries >= TOKENS;

        // The model: what may be served from the cache (entries), which read a new one may join.
        const entries = new Map<number, { expiresAtMs: number; read: ModelRead }>();
        const joinable = new Map<number, ModelRead>();
        const inFlight: ModelRead[] = []; // in the order of the database reads still unanswered
        const pendingOf = new Map<ModelRead, PendingRead>();
        /** Every read of the cache and the model read whose answer it must get. */
        const results: { token: number; promise: Promise<TokenSubject | null>; from: ModelRead }[] = [];

        const detach = (matches: (read: ModelRead) => boolean) => {
          for (const read of inFlight) if (matches(read)) read.overtaken = true;
          for (const [token, read] of joinable) if (matches(read)) joinable.delete(token);
        };

        for (const step of operations) {
          switch (step.op) {
            case 'read': {
              const before = cache.stats;
              const readsBefore = store.reads.length;
              const promise = cache.read(claimsOf(step.token));
              promise.catch(() => undefined);
              const after = cache.stats;
              const entry = entries.get(step.token);
              const fresh = entry !== undefined && clock.ms < entry.expiresAtMs;
              const join = joinable.get(step.token);
              if (after.hits > before.hits) {
                if (!entry || !fresh) throw new Error(`j${step.token} served at ${clock.ms - T0} past its entry`);
                results.push({ token: step.token, promise, from: entry.read });
              } else if (after.shared > before.shared) {
                if (!join) throw new Error(`j${step.token} joined a read it may not join`);
                if (roomy && fresh) throw new Error(`j${step.token} joined instead of hitting`);
                results.push({ token: step.token, promise, from: join });
              } else {
                if (store.reads.length !== readsBefore + 1) throw new Error('a miss without a database read');
                if (join) throw new Error(`j${step.token} read again although a read was joinable`);
                if (roomy && fresh) throw new Error(`j${step.token} read again although fresh`);
                const read: ModelRead = { token: step.token, beganAtMs: clock.ms, overtaken: false };
                joinable.set(step.token, read);
                inFlight.push(read);
                pendingOf.set(read, store.read(readsBefore));
                results.push({ token: step.token, promise, from: read });
              }
              break;
            }
            case 'answer': {
              if (inFlight.length === 0) break;
              const [read] = inFlight.splice(step.pick % inFlight.length, 1);
              if (!read) break;
              if (joinable.get(read.token) === read) joinable.delete(read.token);
              read.outcome = step.outcome;
              const pending = pendingOf.get(read)!;
              const subject = subjectFor(read.token, step.outcome);
              if (subject === undefined) {
                pending.reject(new ServiceUnavailableError('The user store is unavailable right now.'));
              } else {
                pending.resolve(subject);
              }
              const expiresAtMs = Math.min(read.beganAtMs + ttlMs, claimsOf(read.token).expiresAt.getTime());
              if (step.outcome === 'valid' && ttlMs > 0 && !read.overtaken && expiresAtMs > clock.ms) {
                entries.set(read.token, { expiresAtMs, read });
              }
              await settle();
              break;
            }
            case 'advance':
              clock.advance(step.ms);
              break;
            case 'advanceToExpiry': {
              const ahead = [...entries.values()]
                .map((entry) => entry.expiresAtMs)
                .filter((expiresAtMs) => expiresAtMs - step.early > clock.ms);
              const target = ahead[step.pick % Math.max(ahead.length, 1)];
              if (target !== undefined) clock.ms = target - step.early;
              break;
            }
            case 'evictToken':
              cache.evictToken(`j${step.token}`);
              entries.delete(step.token);
              detach((read) => read.token === step.token);
              break;
            case 'evictUser':
              cache.evictUser(step.userId);
              for (const token of [...entries.keys()]) if (userIdOf(token) === step.userId) entries.delete(token);
              detach((read) => userIdOf(read.token) === step.userId);
              break;
            case 'flush':
              cache.flush();
              entries.clear();
              detach(() => true);
              break;
          }
          if (cache.size > maxEntries) throw new Error(`${cache.size} entries with maxEntries ${maxEntries}`);
          if (ttlMs === 0 && cache.size > 0) throw new Error('an entry was stored with TTL 0');
        }
        for (const read of inFlight) {
          read.outcome = 'failure';
          pendingOf.get(read)?.reject(new ServiceUnavailableError('end of the run'));
        }
        // Every read got the answer of the database read it hit, joined or made.
        for (const { token, promise, from } of results) {
          const expected = subjectFor(token, from.outcome ?? 'failure');
          const got = await promise.then(
            (subject) => subject,
            () => undefined,
          );
          if (JSON.stringify(got) !== JSON.stringify(expected)) {
            throw new Error(`j${token} got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
          }
        }
      },
    ),
    { numRuns: 1000 },
  );
  t.pass();
});
