import { Counter, Histogram } from 'prom-client';
import type { Sequelize } from 'sequelize-typescript';

import { LATENCY_BUCKETS, ServiceMetrics } from '@shop/shared-runtime';

import { SERVICE_NAME } from './service-info';

/** How one token-validation RPC ended, as the responder saw it. */
export type RpcServerOutcome = 'valid' | 'invalid' | 'bad_request' | 'internal' | 'expired' | 'dropped';

/** What the RPC responder reports; the metrics below implement it, tests may fake it. */
export interface RpcServerObserver {
  requestHandled(outcome: RpcServerOutcome, seconds: number): void;
}

/**
 * Why subjects left the token-subject cache: `revocation` (a token was revoked: logout, RFC 7009
 * revocation, or an `auth.token_revoked` event), `deactivation` (every token of a deactivated
 * user), `flush` (everything, after a reconnect of the auth-events subscriber), `capacity` (least
 * recently used, cache full), `expired` (TTL or token expiry passed).
 */
export type SubjectCacheEvictionReason = 'revocation' | 'deactivation' | 'flush' | 'capacity' | 'expired';

/** What the token-subject cache reports; the metrics below implement it, tests may fake it. */
export interface SubjectCacheObserver {
  hit(): void;
  miss(): void;
  /** A validation joined a read already in flight for the same token. */
  shared(): void;
  evicted(reason: SubjectCacheEvictionReason, count: number): void;
}

/** user-service's Prometheus metrics: every service's (ServiceMetrics), the RPC responder's and the token-subject cache's. */
export class UserServiceMetrics extends ServiceMetrics {
  readonly rpcServerRequests = new Counter({
    name: 'rpc_server_requests_total',
    help: 'Token-validation RPC requests handled, by outcome (expired: the requester had already given up)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly rpcServerDuration = new Histogram({
    name: 'rpc_server_duration_seconds',
    help: 'Time from taking a token-validation request to publishing its reply, in seconds',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly subjectCacheHits = new Counter({
    name: 'token_subject_cache_hits_total',
    help: 'Token validations whose subject came from the cache, without a database read',
    registers: [this.registry],
  });

  readonly subjectCacheMisses = new Counter({
    name: 'token_subject_cache_misses_total',
    help: 'Token validations that read their subject from the database',
    registers: [this.registry],
  });

  readonly subjectCacheShared = new Counter({
    name: 'token_subject_cache_shared_total',
    help: 'Token validations that joined a database read already in flight for the same token',
    registers: [this.registry],
  });

  readonly subjectCacheEvictions = new Counter({
    name: 'token_subject_cache_evictions_total',
    help: 'Subjects removed from the cache, by reason (revocation, deactivation, flush, capacity, expired)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(options: { sequelize?: Sequelize; collectProcessMetrics?: boolean } = {}) {
    super({ service: SERVICE_NAME, ...options });
  }

  readonly rpcServerObserver: RpcServerObserver = {
    requestHandled: (outcome, seconds) => {
      this.rpcServerRequests.inc({ outcome });
      this.rpcServerDuration.observe({ outcome }, seconds);
    },
  };

  readonly subjectCacheObserver: SubjectCacheObserver = {
    hit: () => {
      this.subjectCacheHits.inc();
    },
    miss: () => {
      this.subjectCacheMisses.inc();
    },
    shared: () => {
      this.subjectCacheShared.inc();
    },
    evicted: (reason, count) => {
      this.subjectCacheEvictions.inc({ reason }, count);
    },
  };

  /** Samples the entries of the token-subject cache at each scrape. */
  trackSubjectCacheEntries(entryCount: () => number): void {
    this.sampledGauge(
      'token_subject_cache_entries',
      'Token subjects held in the cache (expired ones included until reclaimed)',
      entryCount,
    );
  }
}
