import { Counter, Histogram } from 'prom-client';
import type { Sequelize } from 'sequelize-typescript';

import { LATENCY_BUCKETS, ServiceMetrics } from '@shop/shared-runtime';

import { SERVICE_NAME } from './service-info';

/** How one token-validation call ended, as the requester saw it. */
export type RpcClientOutcome = 'valid' | 'invalid' | 'timeout' | 'unavailable' | 'error_reply' | 'malformed_reply';

/** What the RPC client reports; the metrics below implement it, tests may fake it. */
export interface RpcClientObserver {
  callSettled(outcome: RpcClientOutcome, seconds: number): void;
  /** A reply arrived for no waiting call: late, duplicate or a stranger's. */
  replyDropped(): void;
}

/**
 * Why validations left the token-validation cache: `revocation` (an auth event evicted the
 * user), `flush` (everything, after a reconnect), `capacity` (least recently used, cache full),
 * `expired` (TTL or token expiry passed).
 */
export type AuthCacheEvictionReason = 'revocation' | 'flush' | 'capacity' | 'expired';

/** What the token-validation cache reports; the metrics below implement it. */
export interface AuthCacheObserver {
  hit(): void;
  miss(): void;
  /** A validation joined one already in flight for the same token. */
  shared(): void;
  evicted(reason: AuthCacheEvictionReason, count: number): void;
}

/** product-service's Prometheus metrics: every service's (ServiceMetrics), the RPC client's and the validation cache's. */
export class ProductServiceMetrics extends ServiceMetrics {
  readonly rpcClientCalls = new Counter({
    name: 'rpc_client_calls_total',
    help: 'Token-validation RPC calls by outcome (timeout, unavailable: answered 503)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly rpcClientDuration = new Histogram({
    name: 'rpc_client_duration_seconds',
    help: 'Time from publishing a token-validation request to its settlement, in seconds',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly rpcClientDroppedReplies = new Counter({
    name: 'rpc_client_dropped_replies_total',
    help: 'Replies dropped because no call waited for them (late, duplicate or unknown correlationId)',
    registers: [this.registry],
  });

  readonly authCacheHits = new Counter({
    name: 'auth_cache_hits_total',
    help: 'Token validations answered from the cache, without an RPC',
    registers: [this.registry],
  });

  readonly authCacheMisses = new Counter({
    name: 'auth_cache_misses_total',
    help: 'Token validations that sent an RPC',
    registers: [this.registry],
  });

  readonly authCacheShared = new Counter({
    name: 'auth_cache_shared_total',
    help: 'Token validations that joined an RPC already in flight for the same token',
    registers: [this.registry],
  });

  readonly authCacheEvictions = new Counter({
    name: 'auth_cache_evictions_total',
    help: 'Validations removed from the cache, by reason (revocation, flush, capacity, expired)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(options: { sequelize?: Sequelize; collectProcessMetrics?: boolean } = {}) {
    super({ service: SERVICE_NAME, ...options });
  }

  readonly rpcClientObserver: RpcClientObserver = {
    callSettled: (outcome, seconds) => {
      this.rpcClientCalls.inc({ outcome });
      this.rpcClientDuration.observe({ outcome }, seconds);
    },
    replyDropped: () => {
      this.rpcClientDroppedReplies.inc();
    },
  };

  /** Samples the calls waiting for a reply at each scrape. */
  trackPendingCalls(pendingCount: () => number): void {
    this.sampledGauge('rpc_client_in_flight', 'Token-validation calls waiting for a reply', pendingCount);
  }

  readonly authCacheObserver: AuthCacheObserver = {
    hit: () => {
      this.authCacheHits.inc();
    },
    miss: () => {
      this.authCacheMisses.inc();
    },
    shared: () => {
      this.authCacheShared.inc();
    },
    evicted: (reason, count) => {
      this.authCacheEvictions.inc({ reason }, count);
    },
  };

  /** Samples the entries of the token-validation cache at each scrape. */
  trackAuthCacheEntries(entryCount: () => number): void {
    this.sampledGauge(
      'auth_cache_entries',
      'Token validations held in the cache (expired ones included until reclaimed)',
      entryCount,
    );
  }
}
