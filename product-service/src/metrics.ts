import type { Sequelize } from 'sequelize-typescript';

import { ServiceMetrics, type CacheObserver } from '@shop/shared-runtime';

import { SERVICE_NAME } from './service-info';

/** How one token-validation call ended, as the requester saw it. */
export type RpcClientOutcome =
  'valid' | 'invalid' | 'timeout' | 'unavailable' | 'blocked' | 'error_reply' | 'malformed_reply';

/** What the RPC client reports; the metrics below implement it, tests may fake it. */
export interface RpcClientObserver {
  callSettled(outcome: RpcClientOutcome, seconds: number): void;
  /** A reply arrived for no waiting call: late, duplicate or a stranger's. */
  replyDropped(): void;
  /** A reply whose AMQP `userId` is not user-service's broker user (a forgery), dropped. */
  replyFromStranger(): void;
}

/**
 * Why validations left the token-validation cache: `revocation` (an auth event evicted the
 * user), `flush` (everything, after a reconnect), `capacity` (least recently used, cache full),
 * `expired` (TTL or token expiry passed).
 */
export type AuthCacheEvictionReason = 'revocation' | 'flush' | 'capacity' | 'expired';

/** What the token-validation cache reports; the metrics below implement it. */
export type AuthCacheObserver = CacheObserver<AuthCacheEvictionReason>;

/** product-service's Prometheus metrics: every service's (ServiceMetrics), the RPC client's and the validation cache's. */
export class ProductServiceMetrics extends ServiceMetrics {
  private readonly rpcClientDroppedReplies = this.counter(
    'rpc_client_dropped_replies_total',
    'Replies dropped because no call waited for them (late, duplicate or unknown correlationId)',
  );

  private readonly rpcClientStrangerReplies = this.counter(
    'rpc_client_unverified_replies_total',
    "Replies dropped because their AMQP userId is not user-service's broker user (the call waits on as if unanswered)",
  );

  /** The token-validation cache's counters and entries gauge (`auth_cache_*`). */
  readonly authCache = this.cacheMetrics<AuthCacheEvictionReason>('auth_cache', {
    hits: 'Token validations answered from the cache, without an RPC',
    misses: 'Token validations that sent an RPC',
    shared: 'Token validations that joined an RPC already in flight for the same token',
    evictions: 'Validations removed from the cache, by reason (revocation, flush, capacity, expired)',
    entries: 'Token validations held in the cache (expired ones included until reclaimed)',
  });

  constructor(options: { sequelize?: Sequelize; collectProcessMetrics?: boolean } = {}) {
    super({ service: SERVICE_NAME, ...options });
  }

  private readonly rpcClientCallSettled = this.outcomeMetrics(
    {
      name: 'rpc_client_calls_total',
      help: 'Token-validation RPC calls by outcome (timeout, unavailable, blocked: answered 503)',
    },
    {
      name: 'rpc_client_duration_seconds',
      help: 'Time from publishing a token-validation request to its settlement, in seconds',
    },
  );

  readonly rpcClientObserver: RpcClientObserver = {
    callSettled: (outcome, seconds) => {
      this.rpcClientCallSettled(outcome, seconds);
      if (outcome === 'blocked') this.flowControlFastFailures.inc();
    },
    replyDropped: () => {
      this.rpcClientDroppedReplies.inc();
    },
    replyFromStranger: () => {
      this.rpcClientStrangerReplies.inc();
    },
  };

  /** Samples the calls waiting for a reply at each scrape. */
  trackPendingCalls(pendingCount: () => number): void {
    this.sampledGauge('rpc_client_in_flight', 'Token-validation calls waiting for a reply', pendingCount);
  }
}
