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
