import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Sequelize } from 'sequelize-typescript';

/** How one token-validation RPC ended, as the responder saw it. */
export type RpcServerOutcome = 'valid' | 'invalid' | 'bad_request' | 'internal' | 'expired' | 'dropped';

/** What the RPC responder reports; the metrics below implement it, tests may fake it. */
export interface RpcServerObserver {
  requestHandled(outcome: RpcServerOutcome, seconds: number): void;
}

/** Buckets for HTTP and RPC latencies, in seconds: sub-millisecond RPCs up to bcrypt logins. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * user-service's Prometheus metrics, in a registry of their own (one per app, so tests can
 * build several apps in one process). Names follow Prometheus conventions: units in the name,
 * `_total` on counters.
 */
export class UserServiceMetrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status, in seconds',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

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

  readonly brokerReconnects = new Counter({
    name: 'amqp_reconnects_total',
    help: 'Connections to RabbitMQ re-established after a loss',
    registers: [this.registry],
  });

  constructor(options: { sequelize?: Sequelize; collectProcessMetrics?: boolean } = {}) {
    if (options.collectProcessMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.registry.setDefaultLabels({ service: 'user-service' });
    if (options.sequelize) registerPoolGauges(this.registry, options.sequelize);
  }

  readonly rpcServerObserver: RpcServerObserver = {
    requestHandled: (outcome, seconds) => {
      this.rpcServerRequests.inc({ outcome });
      this.rpcServerDuration.observe({ outcome }, seconds);
    },
  };
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
