import test from 'ava';

import { tokenRevokedEvent, userDeactivatedEvent } from '@shop/test-harness';

import { CachedTokenValidator } from '../../src/services/cached-token-validator';
import type { AuthenticatedUser, TokenValidator } from '../../src/services/token-validator';

// What an auth event evicts is each service's own rule; the subscriber that hands events over
// (dedup, acks, flushes) is shared-runtime's, tested in its test/unit/auth-events.subscriber.test.ts.

const context = { requestId: 'req-1' };

/** Who each token belongs to: tokens are keyed by hash here, and the cache never sees a jti. */
const HOLDERS: Record<string, number> = { 'tok-a1': 7, 'tok-a2': 7, 'tok-b1': 8 };

/** A TokenValidator that vouches for the tokens of HOLDERS and counts what it is asked. */
class HolderValidator implements TokenValidator {
  calls = 0;

  validate(token: string): Promise<AuthenticatedUser> {
    this.calls += 1;
    const userId = HOLDERS[token];
    if (userId === undefined) return Promise.reject(new Error(`unknown token ${token}`));
    return Promise.resolve({ userId, username: `user${userId}`, expiresAt: new Date(Date.now() + 3_600_000) });
  }
}

/** A cache holding a validation of every token of HOLDERS. */
async function filledCache() {
  const inner = new HolderValidator();
  // No settle window: these tests look at what is evicted, then at what is stored again.
  const cache = new CachedTokenValidator({ inner, ttlMs: 60_000, maxEntries: 100, revocationSettleMs: 0 });
  for (const token of Object.keys(HOLDERS)) await cache.validate(token, context);
  return { cache, inner };
}

/** The tokens whose next validation asks the inner validator again (their entries were evicted). */
async function evictedTokens(cache: CachedTokenValidator, inner: HolderValidator): Promise<string[]> {
  const evicted: string[] = [];
  for (const token of Object.keys(HOLDERS)) {
    const before = inner.calls;
    await cache.validate(token, context);
    if (inner.calls > before) evicted.push(token);
  }
  return evicted;
}

test('CachedTokenValidator.evict(auth.token_revoked) → every validation of the token’s user goes (no jti here), other users’ stay', async (t) => {
  const { cache, inner } = await filledCache();

  const removed = cache.evict(tokenRevokedEvent(7));

  t.is(removed, 2);
  t.deepEqual(await evictedTokens(cache, inner), ['tok-a1', 'tok-a2']);
  t.is(cache.stats.evictions.revocation, 2);
});

test('CachedTokenValidator.evict(user.deactivated) → every validation of that user goes, other users’ stay', async (t) => {
  const { cache, inner } = await filledCache();

  const removed = cache.evict(userDeactivatedEvent(8));

  t.is(removed, 1);
  t.deepEqual(await evictedTokens(cache, inner), ['tok-b1']);
});

test('CachedTokenValidator → named in the subscriber’s logs as the token-validation cache', (t) => {
  const cache = new CachedTokenValidator({ inner: new HolderValidator(), ttlMs: 60_000, maxEntries: 10 });

  t.is(cache.name, 'token-validation cache');
});
