import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Sequelize } from 'sequelize-typescript';

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

/** What the auth-events subscriber reports; the metrics below implement it. */
export interface AuthEventsObserver {
  /** A schema-valid event arrived (duplicates included). */
  received(type: string): void;
  /** An event whose id was already handled. */
  duplicate(): void;
  /** A message that is not an auth event, dropped. */
  malformed(): void;
}

/** Buckets for HTTP and RPC latencies, in seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * product-service's Prometheus metrics, in a registry of their own (one per app, so tests can
 * build several apps in one process).
 */
export class ProductServiceMetrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status, in seconds',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

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

  readonly brokerReconnects = new Counter({
    name: 'amqp_reconnects_total',
    help: 'Connections to RabbitMQ re-established after a loss',
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

  readonly authEventsReceived = new Counter({
    name: 'auth_events_received_total',
    help: 'Schema-valid auth events received from user-service, by type (duplicates included)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly authEventsDuplicates = new Counter({
    name: 'auth_events_duplicates_total',
    help: 'Auth events dropped because their id had already been handled',
    registers: [this.registry],
  });

  readonly authEventsMalformed = new Counter({
    name: 'auth_events_malformed_total',
    help: 'Messages on the auth-events queue that were not auth events, dropped',
    registers: [this.registry],
  });

  constructor(options: { sequelize?: Sequelize; collectProcessMetrics?: boolean } = {}) {
    if (options.collectProcessMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.registry.setDefaultLabels({ service: 'product-service' });
    if (options.sequelize) registerPoolGauges(this.registry, options.sequelize);
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
    new Gauge({
      name: 'rpc_client_in_flight',
      help: 'Token-validation calls waiting for a reply',
      registers: [this.registry],
      collect() {
        this.set(pendingCount());
      },
    });
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

  readonly authEventsObserver: AuthEventsObserver = {
    received: (type) => {
      this.authEventsReceived.inc({ type });
    },
    duplicate: () => {
      this.authEventsDuplicates.inc();
    },
    malformed: () => {
      this.authEventsMalformed.inc();
    },
  };

  /** Samples the entries of the token-validation cache at each scrape. */
  trackAuthCacheEntries(entryCount: () => number): void {
    new Gauge({
      name: 'auth_cache_entries',
      help: 'Token validations held in the cache (expired ones included until reclaimed)',
      registers: [this.registry],
      collect() {
        this.set(entryCount());
      },
    });
  }
}

interface PoolCounts {
  size: number;
  available: number;
  using: number;
  waiting: number;
}

/** Sequelize's connection pool, sampled at each scrape. */
function registerPoolGauges(registry: Registry, sequelize: Sequelize): void {
  const pool = () => (sequelize.connectionManager as unknown as { pool?: PoolCounts }).pool;
  const gauges: [keyof PoolCounts, string][] = [
    ['size', 'Connections open in the database pool'],
    ['available', 'Idle connections in the database pool'],
    ['using', 'Connections in use from the database pool'],
    ['waiting', 'Queries waiting for a database connection'],
  ];
  for (const [field, help] of gauges) {
    new Gauge({
      name: `db_pool_${field}_connections`,
      help,
      registers: [registry],
      collect() {
        this.set(pool()?.[field] ?? 0);
      },
    });
  }
}
