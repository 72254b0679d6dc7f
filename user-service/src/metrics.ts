import type { Sequelize } from 'sequelize-typescript';

import { ServiceMetrics, type CacheObserver } from '@shop/shared-runtime';

import { SERVICE_NAME } from './service-info';

/** How one token-validation RPC ended, as the responder saw it. */
export type RpcServerOutcome = 'valid' | 'invalid' | 'bad_request' | 'forbidden' | 'internal' | 'expired' | 'dropped';

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
export type SubjectCacheObserver = CacheObserver<SubjectCacheEvictionReason>;

/** user-service's Prometheus metrics: every service's (ServiceMetrics), the RPC responder's and the token-subject cache's. */
export class UserServiceMetrics extends ServiceMetrics {
  readonly rpcServerObserver: RpcServerObserver = {
    requestHandled: this.outcomeMetrics(
      {
        name: 'rpc_server_requests_total',
        help: 'Token-validation RPC requests handled, by outcome (expired: the requester had already given up; forbidden: the caller is not allowed)',
      },
      {
        name: 'rpc_server_duration_seconds',
        help: 'Time from taking a token-validation request to publishing its reply, in seconds',
      },
    ),
  };

  /** The token-subject cache's counters and entries gauge (`token_subject_cache_*`). */
  readonly subjectCache = this.cacheMetrics<SubjectCacheEvictionReason>('token_subject_cache', {
    hits: 'Token validations whose subject came from the cache, without a database read',
    misses: 'Token validations that read their subject from the database',
    shared: 'Token validations that joined a database read already in flight for the same token',
    evictions: 'Subjects removed from the cache, by reason (revocation, deactivation, flush, capacity, expired)',
    entries: 'Token subjects held in the cache (expired ones included until reclaimed)',
  });

  constructor(options: { sequelize?: Sequelize; collectProcessMetrics?: boolean } = {}) {
    super({ service: SERVICE_NAME, ...options });
  }
}
