import { createHash } from 'node:crypto';

import { LRUCache } from 'lru-cache';

import type { AuthEvent } from '@shop/shared-contracts';

import type { AuthCacheEvictionReason, AuthCacheObserver } from '../metrics';
import type { AuthenticatedUser, TokenValidator } from './token-validator';

export interface CachedTokenValidatorDeps {
  /** Who really checks tokens: the RabbitMQ RPC client. */
  inner: TokenValidator;
  /**
   * How long a successful validation is reused, in ms, counted from when it was asked (never
   * past the token's own expiry). 0: nothing is stored, but concurrent checks of one token still
   * share one call.
   */
  ttlMs: number;
  /** Validations kept at most; the least recently used go first. */
  maxEntries: number;
  /**
   * The clock, in ms since the epoch; `Date.now` unless a test drives time. Wall-clock time,
   * because it is compared with the tokens' `exp`.
   */
  now?: () => number;
  /** Told of every hit, miss, shared call and eviction; metrics implement it. */
  observer?: AuthCacheObserver;
  /**
   * After an eviction of a user, how long answers for that user are returned but not stored, in
   * ms. Default {@link DEFAULT_REVOCATION_SETTLE_MS}; tests of other behaviour pass 0.
   */
  revocationSettleMs?: number;
}

/**
 * How long after a revocation event answers for its user are not stored. user-service keeps a
 * cache of its own, and each of its instances applies the same event independently: one that
 * has not applied it yet may still answer "valid" for the revoked token from that cache, and
 * stored here that answer would outlive the revocation by our whole TTL, with no further event
 * to remove it. Every instance answering RPCs is connected and consuming the same exchange, so
 * the gap between two consumers applying one event is milliseconds (measured: under 25 ms); two
 * seconds cover it with a wide margin at the cost of one RPC per write of that user meanwhile.
 */
export const DEFAULT_REVOCATION_SETTLE_MS = 2000;

/** Users remembered as recently evicted, at most (older ones are forgotten first). */
const MAX_SETTLING_USERS = 100_000;

/** Counters since start, for tests. */
export interface CachedTokenValidatorStats {
  /** Validations answered from the cache. */
  hits: number;
  /** Validations that asked the inner validator. */
  misses: number;
  /** Validations that joined a call already in flight for the same token. */
  shared: number;
  /**
   * Successful answers not stored: their user (or everyone) was evicted while they were in
   * flight, or their user less than revocationSettleMs ago.
   */
  discardedAnswers: number;
  /** Entries removed, by reason. */
  evictions: Record<AuthCacheEvictionReason, number>;
  /** Entries held now (expired ones included until they are touched or pushed out). */
  entries: number;
}

interface CacheEntry {
  user: AuthenticatedUser;
  /** From this instant on (ms since the epoch) the entry is never used: min(asked + TTL, token exp). */
  expiresAtMs: number;
}

/** One question to the inner validator, from the moment it is asked until its answer. */
interface Validation {
  readonly key: string;
  readonly promise: Promise<AuthenticatedUser>;
}

/**
 * The cache key of a token: its SHA-256, base64url. The process never keeps bearer tokens
 * themselves, so a heap dump does not hand them out.
 */
export function tokenCacheKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * A {@link TokenValidator} in front of another that remembers successful validations for a
 * while, so that a client's burst of writes costs one RPC instead of one each.
 *
 * Invariants:
 * - A hit is used only while `now() < min(askedAt + ttlMs, token exp)`, checked here on every
 *   get, whatever lru-cache's own (coarser) timing says.
 * - Concurrent validations of one token share one inner call (single flight), also with
 *   `ttlMs = 0`. Refusals (401) and failures (503) are shared with the callers waiting at that
 *   moment but never stored: the next request asks again.
 * - {@link evictUser} and {@link flush} win over answers in flight. Every eviction takes the next
 *   number of a sequence; an answer is stored only if neither a flush nor an eviction of its
 *   user has a number above the one current when it was asked — so a "valid" computed before a
 *   logout and delivered after the revocation event is returned to its callers but never cached.
 *   The check is per user (it runs when the answer, and with it the user, is known): a global
 *   one would discard a share of every user's answers (revocation rate × RPC latency) on a busy
 *   service.
 * - A request arriving after an eviction never joins a call asked before it. The user of a call
 *   in flight is unknown until it answers, so every eviction detaches them all; otherwise a
 *   request made after a logout could be let through by an answer computed before it. The cost
 *   is at most one more RPC per token in flight at that moment.
 */
export class CachedTokenValidator implements TokenValidator {
  private readonly inner: TokenValidator;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly observer: AuthCacheObserver | undefined;
  private readonly entries: LRUCache<string, CacheEntry>;
  /**
   * userId → keys of its entries, kept in step by lru-cache's dispose, so that an eviction costs
   * O(that user's entries). Iterating the whole cache instead measured 0.55 ms per event at
   * 10 000 entries and 8.6 ms at 100 000 (the event loop blocked meanwhile), against 1–20 µs.
   */
  private readonly keysByUser = new Map<number, Set<string>>();

  /** Calls a new validation of the same token may join; emptied by every eviction. */
  private readonly joinable = new Map<string, Validation>();
  /** Calls not yet answered, in the order they were asked, with the sequence number of then. */
  private readonly unanswered = new Map<Validation, number>();
  /** Number of the latest eviction or flush. */
  private evictionSeq = 0;
  private lastFlushSeq = 0;
  /**
   * userId → number of its latest eviction, in increasing order of numbers. Kept only while a
   * call asked before it is unanswered: older ones can no longer stop anything from being stored.
   */
  private readonly userEvictionSeqs = new Map<number, number>();

  /** Users evicted less than revocationSettleMs ago: their answers are not stored meanwhile. */
  private readonly settlingUsers: LRUCache<number, true> | undefined;

  private readonly counters: Omit<CachedTokenValidatorStats, 'entries'> = {
    hits: 0,
    misses: 0,
    shared: 0,
    discardedAnswers: 0,
    evictions: { revocation: 0, flush: 0, capacity: 0, expired: 0 },
  };

  constructor(deps: CachedTokenValidatorDeps) {
    this.inner = deps.inner;
    this.ttlMs = deps.ttlMs;
    this.now = deps.now ?? Date.now;
    this.observer = deps.observer;
    this.entries = new LRUCache<string, CacheEntry>({
      max: deps.maxEntries,
      // Each entry also gets its own (shorter) TTL at set; with it lru-cache reclaims the memory
      // of expired entries. Hits never rely on it: see isFresh.
      ttl: deps.ttlMs,
      // The same clock as isFresh, read on every check: lru-cache's default caches it for 1 ms.
      perf: { now: this.now },
      ttlResolution: 0,
      dispose: (entry, key, reason) => {
        this.unindex(entry.user.userId, key);
        if (reason === 'evict') this.countEvictions('capacity', 1);
        if (reason === 'expire') this.countEvictions('expired', 1);
      },
    });
    const settleMs = deps.revocationSettleMs ?? DEFAULT_REVOCATION_SETTLE_MS;
    this.settlingUsers =
      settleMs > 0
        ? new LRUCache<number, true>({
            max: MAX_SETTLING_USERS,
            ttl: settleMs,
            perf: { now: this.now },
            ttlResolution: 0,
          })
        : undefined;
  }

  validate(token: string, context: { requestId: string }): Promise<AuthenticatedUser> {
    const key = tokenCacheKey(token);
    const entry = this.entries.get(key);
    if (entry) {
      if (this.isFresh(entry)) {
        this.counters.hits += 1;
        this.observer?.hit();
        return Promise.resolve(entry.user);
      }
      this.entries.delete(key);
      this.countEvictions('expired', 1);
    }
    const inFlight = this.joinable.get(key);
    if (inFlight) {
      this.counters.shared += 1;
      this.observer?.shared();
      return inFlight.promise;
    }
    this.counters.misses += 1;
    this.observer?.miss();
    return this.ask(key, token, context);
  }

  /** Shown in the auth-events subscriber's logs. */
  readonly name = 'token-validation cache';

  /**
   * Forgets what an auth event made wrong. A token_revoked names one token (jti), but this
   * cache is keyed by token hash and never sees a jti: every validation of the user goes, and
   * each of the user's other tokens costs one RPC later.
   *
   * @returns how many entries were removed
   */
  evict(event: AuthEvent): number {
    return this.evictUser(event.data.user_id);
  }

  /**
   * Forgets every validation of `userId`: one of their tokens was revoked or the user was
   * deactivated. Tokens are not told apart (this service never sees token ids), so their other
   * tokens cost one RPC each on their next use.
   *
   * @returns how many entries were removed
   */
  evictUser(userId: number): number {
    this.evictionSeq += 1;
    this.settlingUsers?.set(userId, true);
    if (this.unanswered.size > 0) {
      // Re-inserted so the map stays in increasing order of numbers (see forgetOldEvictions).
      this.userEvictionSeqs.delete(userId);
      this.userEvictionSeqs.set(userId, this.evictionSeq);
    }
    this.joinable.clear();
    const keys = [...(this.keysByUser.get(userId) ?? [])];
    for (const key of keys) this.entries.delete(key);
    this.countEvictions('revocation', keys.length);
    return keys.length;
  }

  /**
   * Forgets everything, including what is in flight: after a reconnect the cache may hold
   * answers whose revocation events were missed.
   *
   * @returns how many entries were removed
   */
  flush(): number {
    this.evictionSeq += 1;
    this.lastFlushSeq = this.evictionSeq;
    // Every unanswered call predates this flush, which alone already stops it from being stored.
    this.userEvictionSeqs.clear();
    this.joinable.clear();
    const count = this.entries.size;
    this.entries.clear();
    this.countEvictions('flush', count);
    return count;
  }

  /** Entries held (expired ones included until they are touched or pushed out). */
  get size(): number {
    return this.entries.size;
  }

  /** A copy of the counters since start. */
  get stats(): CachedTokenValidatorStats {
    return {
      ...this.counters,
      evictions: { ...this.counters.evictions },
      entries: this.entries.size,
    };
  }

  private ask(key: string, token: string, context: { requestId: string }): Promise<AuthenticatedUser> {
    const askedAtMs = this.now();
    const askedAtSeq = this.evictionSeq;
    const promise = this.inner.validate(token, context).then(
      (user) => {
        // Stored before the call counts as answered: answering may forget the eviction numbers this check needs.
        this.remember(key, user, askedAtMs, askedAtSeq);
        this.answered(validation);
        return user;
      },
      (error: unknown) => {
        this.answered(validation);
        throw error;
      },
    );
    const validation: Validation = { key, promise };
    this.joinable.set(key, validation);
    this.unanswered.set(validation, askedAtSeq);
    return promise;
  }

  private remember(key: string, user: AuthenticatedUser, askedAtMs: number, askedAtSeq: number): void {
    if (this.ttlMs === 0) return;
    if (this.evictedSince(user.userId, askedAtSeq) || this.settlingUsers?.has(user.userId)) {
      this.counters.discardedAnswers += 1;
      return;
    }
    const expiresAtMs = Math.min(askedAtMs + this.ttlMs, user.expiresAt.getTime());
    const ttl = expiresAtMs - this.now();
    // Also false for NaN: an answer without a usable expiry is not stored.
    if (!(ttl > 0)) return;
    this.entries.set(key, { user, expiresAtMs }, { ttl: Math.ceil(ttl) });
    // After set: replacing an entry disposes it, which unindexes its key.
    let keys = this.keysByUser.get(user.userId);
    if (!keys) this.keysByUser.set(user.userId, (keys = new Set()));
    keys.add(key);
  }

  private isFresh(entry: CacheEntry): boolean {
    return this.now() < entry.expiresAtMs;
  }

  /** Whether a flush or an eviction of `userId` happened after sequence number `askedAtSeq`. */
  private evictedSince(userId: number, askedAtSeq: number): boolean {
    return Math.max(this.lastFlushSeq, this.userEvictionSeqs.get(userId) ?? 0) > askedAtSeq;
  }

  private answered(validation: Validation): void {
    if (this.joinable.get(validation.key) === validation) this.joinable.delete(validation.key);
    this.unanswered.delete(validation);
    this.forgetOldEvictions();
  }

  /** Drops the eviction numbers no unanswered call was asked before. */
  private forgetOldEvictions(): void {
    const oldestAskedAtSeq = this.unanswered.values().next().value;
    if (oldestAskedAtSeq === undefined) {
      this.userEvictionSeqs.clear();
      return;
    }
    for (const [userId, seq] of this.userEvictionSeqs) {
      if (seq > oldestAskedAtSeq) break;
      this.userEvictionSeqs.delete(userId);
    }
  }

  private unindex(userId: number, key: string): void {
    const keys = this.keysByUser.get(userId);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.keysByUser.delete(userId);
  }

  private countEvictions(reason: AuthCacheEvictionReason, count: number): void {
    if (count === 0) return;
    this.counters.evictions[reason] += count;
    this.observer?.evicted(reason, count);
  }
}
