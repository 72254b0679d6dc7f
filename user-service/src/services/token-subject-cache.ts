import { LRUCache } from 'lru-cache';

import { EVENT_TYPES, type AuthEvent } from '@shop/shared-contracts';

import type { SubjectCacheEvictionReason, SubjectCacheObserver } from '../metrics';
import type { TokenSubject, UserRepository } from '../repositories/user.repository';

export interface TokenSubjectCacheDeps {
  /** Where subjects are really read: one query per token (the user and the token's revocation). */
  users: Pick<UserRepository, 'findTokenSubject'>;
  /**
   * How long a subject that makes its token valid is reused, in ms, counted from when its read
   * began (never past the token's own expiry). 0: nothing is stored, but concurrent validations
   * of one token still share one read.
   */
  ttlMs: number;
  /** Subjects kept at most; the least recently used go first. */
  maxEntries: number;
  /**
   * The clock, in ms since the epoch; `Date.now` unless a test drives time. Wall-clock time,
   * because it is compared with the tokens' `exp`.
   */
  now?: () => number;
  /** Told of every hit, miss, shared read and eviction; metrics implement it. */
  observer?: SubjectCacheObserver;
}

/** The verified claims of a token whose subject is asked for. */
export interface TokenClaims {
  userId: number;
  jti: string;
  /** The token's `exp`: no subject of it is served from the cache from then on. */
  expiresAt: Date;
}

/** Counters since start, for tests. */
export interface TokenSubjectCacheStats {
  /** Reads answered from the cache. */
  hits: number;
  /** Reads that went to the database. */
  misses: number;
  /** Reads that joined a database read already in flight for the same token. */
  shared: number;
  /** Subjects read but not stored because their token, their user or everything was evicted meanwhile. */
  discardedReads: number;
  /** Entries removed, by reason. */
  evictions: Record<SubjectCacheEvictionReason, number>;
  /** Entries held now (expired ones included until they are touched or pushed out). */
  entries: number;
}

interface CacheEntry {
  subject: TokenSubject;
  userId: number;
  jti: string;
  /** From this instant on (ms since the epoch) the entry is never used: min(read began + TTL, token exp). */
  expiresAtMs: number;
}

/** One database read, from the moment it begins until its answer. */
interface SubjectRead {
  readonly key: string;
  readonly userId: number;
  readonly jti: string;
  readonly promise: Promise<TokenSubject | null>;
  /** Set by an eviction of its token or user, or a flush, made while it was in flight: never stored. */
  overtaken: boolean;
}

/** The cache key of a token: its user and its id (a jti alone is no credential, so keys hold no secret). */
export function subjectKey(userId: number, jti: string): string {
  return `${userId}:${jti}`;
}

/**
 * Remembers, per token, that its user exists and is active and that it is not revoked, so that
 * the validations of a token in use cost one database read per TTL instead of one each.
 *
 * Invariants:
 * - Only subjects that make the token valid are stored: those are the answers a logout or a
 *   deactivation can make wrong. A refusal (no such user, inactive, revoked) is final, returned
 *   to the validations waiting for it and never stored.
 * - A hit is used only while `now() < min(readBeganAt + ttlMs, token exp)`, checked here on every
 *   get, whatever lru-cache's own (coarser) timing says.
 * - Concurrent validations of one token share one read (single flight), also with `ttlMs = 0`.
 *   A failed read is shared with the validations waiting at that moment, never stored.
 * - Evictions ({@link evictToken}, {@link evictUser}, {@link flush}) win over reads in flight.
 *   The key of a read names its user and token, so an eviction finds the reads it concerns at
 *   once: they are detached (a validation arriving after the eviction never joins a read begun
 *   before it, which could have read the row before the revocation committed) and marked, so that
 *   their answer is returned to the validations already waiting but never stored. Reads of other
 *   tokens and users are left alone. (product-service's cache needs eviction sequence numbers
 *   for this because the user of a validation in flight is unknown there until it answers.)
 */
export class TokenSubjectCache {
  private readonly users: Pick<UserRepository, 'findTokenSubject'>;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly observer: SubjectCacheObserver | undefined;
  private readonly entries: LRUCache<string, CacheEntry>;
  /**
   * userId → keys of its entries, and jti → keys (one, unless someone holding the signing key
   * reused a jti), kept in step by lru-cache's dispose, so that an eviction costs O(entries
   * evicted) rather than a walk over the whole cache (which measured 0.55 ms per event at 10 000
   * entries in product-service's cache, the event loop blocked meanwhile).
   */
  private readonly keysByUser = new KeyIndex<number>();
  private readonly keysByJti = new KeyIndex<string>();

  /**
   * Reads a new validation of the same token may join, by key. An eviction walks it: it holds
   * only the reads in flight (bounded by the connection pool and the validations waiting for it).
   */
  private readonly joinable = new Map<string, SubjectRead>();

  private readonly counters: Omit<TokenSubjectCacheStats, 'entries'> = {
    hits: 0,
    misses: 0,
    shared: 0,
    discardedReads: 0,
    evictions: { revocation: 0, deactivation: 0, flush: 0, capacity: 0, expired: 0 },
  };

  constructor(deps: TokenSubjectCacheDeps) {
    this.users = deps.users;
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
        this.unindex(entry, key);
        if (reason === 'evict') this.countEvictions('capacity', 1);
        if (reason === 'expire') this.countEvictions('expired', 1);
      },
    });
  }

  /**
   * The subject of a token whose signature and expiry have been checked: from the cache while
   * fresh, else from the read in flight for that token, else from a new database read.
   * Rejects only when the database does.
   */
  read(token: TokenClaims): Promise<TokenSubject | null> {
    const key = subjectKey(token.userId, token.jti);
    const entry = this.entries.get(key);
    if (entry) {
      if (this.isFresh(entry)) {
        this.counters.hits += 1;
        this.observer?.hit();
        return Promise.resolve(entry.subject);
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
    return this.startRead(key, token);
  }

  /** Shown in the auth-events subscriber's logs. */
  readonly name = 'token-subject cache';

  /**
   * Forgets what an auth event made wrong: exactly the revoked token (this cache is keyed by
   * jti, so the user's other tokens stay), or every token of a deactivated user.
   *
   * @returns how many entries were removed
   */
  evict(event: AuthEvent): number {
    switch (event.type) {
      case EVENT_TYPES.tokenRevoked:
        return this.evictToken(event.data.jti);
      case EVENT_TYPES.userDeactivated:
        return this.evictUser(event.data.user_id);
    }
  }

  /**
   * Forgets the subject of one token (it was revoked), and keeps a read of it in flight from
   * being joined or stored.
   *
   * @returns how many entries were removed
   */
  evictToken(jti: string): number {
    for (const read of this.joinable.values()) if (read.jti === jti) this.overtake(read);
    const keys = this.keysByJti.keysOf(jti);
    for (const key of keys) this.entries.delete(key);
    this.countEvictions('revocation', keys.length);
    return keys.length;
  }

  /**
   * Forgets the subjects of every token of `userId` (the user was deactivated), and keeps reads
   * of them in flight from being joined or stored.
   *
   * @returns how many entries were removed
   */
  evictUser(userId: number): number {
    for (const read of this.joinable.values()) if (read.userId === userId) this.overtake(read);
    const keys = this.keysByUser.keysOf(userId);
    for (const key of keys) this.entries.delete(key);
    this.countEvictions('deactivation', keys.length);
    return keys.length;
  }

  /**
   * Forgets everything, including what is in flight: after a reconnect of the auth-events
   * subscriber the cache may hold subjects whose revocation events were missed.
   *
   * @returns how many entries were removed
   */
  flush(): number {
    for (const read of this.joinable.values()) this.overtake(read);
    const count = this.entries.size;
    this.entries.clear();
    this.keysByUser.clear();
    this.keysByJti.clear();
    this.countEvictions('flush', count);
    return count;
  }

  /** Entries held (expired ones included until they are touched or pushed out). */
  get size(): number {
    return this.entries.size;
  }

  /** A copy of the counters since start. */
  get stats(): TokenSubjectCacheStats {
    return {
      ...this.counters,
      evictions: { ...this.counters.evictions },
      entries: this.entries.size,
    };
  }

  private startRead(key: string, token: TokenClaims): Promise<TokenSubject | null> {
    const readBeganAtMs = this.now();
    const promise = this.users.findTokenSubject(token.userId, token.jti).then(
      (subject) => {
        this.settled(read);
        this.remember(read, subject, readBeganAtMs, token.expiresAt);
        return subject;
      },
      (error: unknown) => {
        this.settled(read);
        throw error;
      },
    );
    const read: SubjectRead = { key, userId: token.userId, jti: token.jti, promise, overtaken: false };
    this.joinable.set(key, read);
    return promise;
  }

  private remember(read: SubjectRead, subject: TokenSubject | null, readBeganAtMs: number, tokenExp: Date): void {
    if (this.ttlMs === 0) return;
    // Refusals are final: nothing a later event could correct, so nothing to keep.
    if (!subject?.isActive || subject.revoked) return;
    if (read.overtaken) {
      this.counters.discardedReads += 1;
      return;
    }
    const expiresAtMs = Math.min(readBeganAtMs + this.ttlMs, tokenExp.getTime());
    const ttl = expiresAtMs - this.now();
    // Also false for NaN: a token without a usable expiry is not stored.
    if (!(ttl > 0)) return;
    this.entries.set(
      read.key,
      { subject: Object.freeze(subject), userId: read.userId, jti: read.jti, expiresAtMs },
      { ttl: Math.ceil(ttl) },
    );
    // After set: replacing an entry disposes it, which unindexes its key.
    this.keysByUser.add(read.userId, read.key);
    this.keysByJti.add(read.jti, read.key);
  }

  private isFresh(entry: CacheEntry): boolean {
    return this.now() < entry.expiresAtMs;
  }

  /** An eviction concerns `read`: no validation joins it from now on, and its answer is not stored. */
  private overtake(read: SubjectRead): void {
    read.overtaken = true;
    this.joinable.delete(read.key);
  }

  private settled(read: SubjectRead): void {
    if (this.joinable.get(read.key) === read) this.joinable.delete(read.key);
  }

  private unindex(entry: CacheEntry, key: string): void {
    this.keysByUser.remove(entry.userId, key);
    this.keysByJti.remove(entry.jti, key);
  }

  private countEvictions(reason: SubjectCacheEvictionReason, count: number): void {
    if (count === 0) return;
    this.counters.evictions[reason] += count;
    this.observer?.evicted(reason, count);
  }
}

/** Cache keys grouped by one of their parts (user, jti), for evictions by that part. */
class KeyIndex<K> {
  private readonly groups = new Map<K, Set<string>>();

  add(part: K, key: string): void {
    let keys = this.groups.get(part);
    if (!keys) this.groups.set(part, (keys = new Set()));
    keys.add(key);
  }

  remove(part: K, key: string): void {
    const keys = this.groups.get(part);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.groups.delete(part);
  }

  /** A copy: evicting the keys removes them from the index meanwhile. */
  keysOf(part: K): string[] {
    return [...(this.groups.get(part) ?? [])];
  }

  clear(): void {
    this.groups.clear();
  }
}
