import test from 'ava';

import type { OutboxRepository, Transaction } from '@shop/shared-runtime/db';

import type { RevokedTokenRepository } from '../../src/repositories/revoked-token.repository';
import type { TokenSubject, UserRecord, UserRepository } from '../../src/repositories/user.repository';
import { AuthService } from '../../src/services/auth.service';
import { PasswordHasher } from '../../src/services/password-hasher';
import { TokenSubjectCache } from '../../src/services/token-subject-cache';
import { TokenService } from '../../src/services/token.service';

const tokens = new TokenService({
  secretKey: 'unit-test-secret-that-is-long-enough-0123',
  algorithm: 'HS256',
  ttlSeconds: 600,
  issuer: 'user-service',
  audience: 'shop',
});

const context = { requestId: 'req-1' };

/**
 * An in-memory user store standing in for PostgreSQL. A subject read sees the rows as they are
 * when it is called (as the SQL statement would), and answers when the test lets it: at once,
 * or after `hold()` until `release()`.
 */
class FakeUserStore {
  readonly users = new Map<number, { username: string; isActive: boolean }>();
  readonly revoked = new Set<string>();
  subjectReads = 0;
  /** Told, in order, of what happened: reads, commits, events announced. */
  readonly log: string[] = [];
  private held: (() => void)[] | undefined;

  add(id: number, username: string): void {
    this.users.set(id, { username, isActive: true });
  }

  hold(): void {
    this.held = [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const answer of held) answer();
  }

  readonly repository = {
    findTokenSubject: (userId: number, jti: string): Promise<TokenSubject | null> => {
      this.subjectReads += 1;
      const user = this.users.get(userId);
      const subject = user
        ? { id: userId, username: user.username, isActive: user.isActive, revoked: this.revoked.has(jti) }
        : null;
      if (!this.held) return Promise.resolve(subject);
      const held = this.held;
      return new Promise((resolve) => {
        held.push(() => {
          resolve(subject);
        });
      });
    },
    deactivate: (id: number): Promise<UserRecord | null> => {
      const user = this.users.get(id);
      if (!user?.isActive) return Promise.resolve(null);
      user.isActive = false;
      return Promise.resolve(this.record(id));
    },
    findById: (id: number): Promise<UserRecord | null> => Promise.resolve(this.users.has(id) ? this.record(id) : null),
  } as unknown as UserRepository;

  readonly revokedTokens = {
    revoke: (token: { jti: string }): Promise<boolean> => {
      if (this.revoked.has(token.jti)) return Promise.resolve(false);
      this.revoked.add(token.jti);
      return Promise.resolve(true);
    },
  } as unknown as RevokedTokenRepository;

  /** Runs the work and "commits" it: the rows changed are what reads see from then on. */
  readonly withTransaction = async <T>(work: (transaction: Transaction) => Promise<T>): Promise<T> => {
    const result = await work({} as unknown as Transaction);
    this.log.push('commit');
    return result;
  };

  private record(id: number): UserRecord {
    const user = this.users.get(id)!;
    const now = new Date();
    return {
      id,
      username: user.username,
      hashedPassword: 'x',
      isActive: user.isActive,
      createdAt: now,
      updatedAt: now,
    };
  }
}

function build(options: { ttlMs?: number } = {}) {
  const store = new FakeUserStore();
  store.add(7, 'alice');
  store.add(8, 'bob');
  const subjects = new TokenSubjectCache({ users: store.repository, ttlMs: options.ttlMs ?? 5000, maxEntries: 100 });
  const service = new AuthService({
    users: store.repository,
    revokedTokens: store.revokedTokens,
    outbox: { add: () => Promise.resolve() } as unknown as OutboxRepository,
    withTransaction: store.withTransaction,
    events: {
      notify: () => {
        store.log.push(`notify (cached: ${subjects.size})`);
      },
    },
    passwords: new PasswordHasher({ rounds: 4 }),
    tokens,
    subjects,
  });
  return { store, subjects, service };
}

const tokenOf = (id: number, username = 'alice') => tokens.issue({ id, username }).token;

function jtiOf(token: string): string {
  const check = tokens.verify(token);
  if (!check.ok) throw new Error(`the test made a bad token: ${check.reason}`);
  return check.jti;
}

test('validateToken → 100 concurrent validations of one token share one database read', async (t) => {
  const { store, service } = build();
  store.hold();
  const token = tokenOf(7);

  const validations = Array.from({ length: 100 }, () => service.validateToken(token));
  store.release();
  const results = await Promise.all(validations);

  t.is(store.subjectReads, 1);
  t.true(results.every((result) => result.valid));
});

test('validateToken → a token validated again within the TTL is answered from the cache, without a read', async (t) => {
  const { store, service } = build();
  const token = tokenOf(7);

  const first = await service.validateToken(token);
  const again = await Promise.all(Array.from({ length: 20 }, () => service.validateToken(token)));

  t.is(store.subjectReads, 1);
  t.true(again.every((result) => JSON.stringify(result) === JSON.stringify(first)));
});

test('validateToken with TOKEN_SUBJECT_CACHE_TTL_MS=0 → every validation after the shared read reads again', async (t) => {
  const { store, service } = build({ ttlMs: 0 });
  const token = tokenOf(7);

  await service.validateToken(token);
  await service.validateToken(token);

  t.is(store.subjectReads, 2);
});

test('validateToken → revoked, inactive and missing subjects are refused with their reason, and never cached', async (t) => {
  const { store, service } = build();
  const revoked = tokenOf(7);
  store.revoked.add(jtiOf(revoked));
  store.add(9, 'carol');
  store.users.get(9)!.isActive = false;
  const cases: [string, string][] = [
    [revoked, 'revoked'],
    [tokenOf(9, 'carol'), 'user_inactive'],
    [tokenOf(2_000_000, 'nobody'), 'user_not_found'],
  ];

  for (const [token, reason] of cases) {
    t.deepEqual(await service.validateToken(token), { valid: false, reason });
    t.deepEqual(await service.validateToken(token), { valid: false, reason });
  }
  t.is(store.subjectReads, 6, 'each refusal was read again');
});

test('logout → the token is evicted once the revocation commits, before its event is announced; the next validation is revoked', async (t) => {
  const { store, subjects, service } = build();
  const token = tokenOf(7);
  const other = tokenOf(7);
  const caller = await service.authenticate(token);
  await service.validateToken(other);
  t.is(subjects.size, 2);

  await service.logout(caller, context);

  t.deepEqual(store.log, ['commit', 'notify (cached: 1)']);
  t.deepEqual(await service.validateToken(token), { valid: false, reason: 'revoked' });
  t.like(await service.validateToken(other), { valid: true });
  t.is(store.subjectReads, 3, 'the revoked token was read again; the other one still came from the cache');
});

test('revoke (RFC 7009) → exactly that token is evicted, even when it was already revoked through another instance', async (t) => {
  const { store, subjects, service } = build();
  const callerToken = tokenOf(7);
  const target = tokenOf(7);
  const caller = await service.authenticate(callerToken);
  await service.validateToken(target);
  // Another instance revoked it: the row exists, its event has not arrived here yet.
  store.revoked.add(jtiOf(target));

  await service.revoke(target, caller, context);

  t.deepEqual(store.log, ['commit'], 'no second event for a token already revoked');
  t.is(subjects.size, 1);
  t.deepEqual(await service.validateToken(target), { valid: false, reason: 'revoked' });
  t.like(await service.validateToken(callerToken), { valid: true });
});

test("deactivate → every cached token of that user is evicted, another user's stay", async (t) => {
  const { store, subjects, service } = build();
  const aliceTokens = [tokenOf(7), tokenOf(7)];
  const bobToken = tokenOf(8, 'bob');
  const caller = await service.authenticate(aliceTokens[0]!);
  await service.validateToken(aliceTokens[1]!);
  await service.validateToken(bobToken);

  await service.deactivate(caller, context);

  t.deepEqual(store.log, ['commit', 'notify (cached: 1)']);
  for (const token of aliceTokens)
    t.deepEqual(await service.validateToken(token), { valid: false, reason: 'user_inactive' });
  t.like(await service.validateToken(bobToken), { valid: true });
  t.is(subjects.stats.evictions.deactivation, 2);
});

test('a validation arriving right after a logout committed never joins a read begun before it', async (t) => {
  const { store, subjects, service } = build();
  const token = tokenOf(7);
  const caller = await service.authenticate(token);
  subjects.flush();
  store.hold();
  // Read before the logout: it sees the token not yet revoked.
  const before = service.validateToken(token);
  const logout = service.logout(caller, context);
  await logout;

  const after = service.validateToken(token);
  store.release();

  t.like(await before, { valid: true }, 'the read begun before the logout answers what it saw');
  t.deepEqual(await after, { valid: false, reason: 'revoked' });
  t.is(store.subjectReads, 3, 'authenticate, the read before the logout, and a fresh one after it');
  t.is(subjects.size, 0, 'the answer read before the logout was not stored');
  t.is(subjects.stats.discardedReads, 1);
});
