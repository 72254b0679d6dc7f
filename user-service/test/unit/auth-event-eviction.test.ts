import test from 'ava';

import { tokenRevokedEvent, userDeactivatedEvent } from '@shop/test-harness';

import type { TokenSubject } from '../../src/repositories/user.repository';
import { TokenSubjectCache, type TokenClaims } from '../../src/services/token-subject-cache';

// What an auth event evicts is each service's own rule; the subscriber that hands events over
// (dedup, acks, flushes) is shared-runtime's, tested in its test/unit/auth-events.subscriber.test.ts.

/** The tokens cached: two of user 7, one of user 8. */
const TOKENS: TokenClaims[] = [
  { userId: 7, jti: 'jti-a1', expiresAt: new Date(Date.now() + 3_600_000) },
  { userId: 7, jti: 'jti-a2', expiresAt: new Date(Date.now() + 3_600_000) },
  { userId: 8, jti: 'jti-b1', expiresAt: new Date(Date.now() + 3_600_000) },
];

/** A user store answering every subject as active and not revoked, counting its reads. */
class ActiveUsers {
  reads = 0;

  findTokenSubject(userId: number): Promise<TokenSubject> {
    this.reads += 1;
    return Promise.resolve({ id: userId, username: `user${userId}`, isActive: true, revoked: false });
  }
}

/** A cache holding the subject of every token of TOKENS. */
async function filledCache() {
  const users = new ActiveUsers();
  const cache = new TokenSubjectCache({ users, ttlMs: 60_000, maxEntries: 100 });
  for (const token of TOKENS) await cache.read(token);
  return { cache, users };
}

/** The jtis whose next read goes to the database again (their entries were evicted). */
async function evictedJtis(cache: TokenSubjectCache, users: ActiveUsers): Promise<string[]> {
  const evicted: string[] = [];
  for (const token of TOKENS) {
    const before = users.reads;
    await cache.read(token);
    if (users.reads > before) evicted.push(token.jti);
  }
  return evicted;
}

test('TokenSubjectCache.evict(auth.token_revoked) → exactly that token goes (by jti); the user’s other tokens stay', async (t) => {
  const { cache, users } = await filledCache();

  const removed = cache.evict(tokenRevokedEvent(7, 'jti-a1'));

  t.is(removed, 1);
  t.deepEqual(await evictedJtis(cache, users), ['jti-a1']);
  t.like(cache.stats.evictions, { revocation: 1, deactivation: 0 });
});

test('TokenSubjectCache.evict(user.deactivated) → every token of that user goes, other users’ stay', async (t) => {
  const { cache, users } = await filledCache();

  const removed = cache.evict(userDeactivatedEvent(7));

  t.is(removed, 2);
  t.deepEqual(await evictedJtis(cache, users), ['jti-a1', 'jti-a2']);
  t.like(cache.stats.evictions, { revocation: 0, deactivation: 2 });
});

test('TokenSubjectCache → named in the subscriber’s logs as the token-subject cache', (t) => {
  const cache = new TokenSubjectCache({ users: new ActiveUsers(), ttlMs: 60_000, maxEntries: 10 });

  t.is(cache.name, 'token-subject cache');
});
