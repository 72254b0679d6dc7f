import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Sequelize } from 'sequelize-typescript';

/** What the auth-events subscriber reports; the metrics below implement it, tests may fake it. */
export interface AuthEventsObserver {
  /** A schema-valid event arrived (duplicates included). */
  received(type: string): void;
  /** An event whose id was already handled. */
  duplicate(): void;
  /** A message that is not an auth event, dropped. */
  malformed(): void;
}

/** What the outbox relay reports; the metrics below implement it, tests may fake it. */
export interface OutboxObserver {
  /** An event the broker confirmed and the outbox marked published. */
  eventPublished(type: string): void;
  /** A publish attempt of `events` events failed; they stay in the outbox and are tried again. */
  publishFailed(events: number): void;
  /** An event that can never be published was parked. */
  eventParked(): void;
}

/** The outbox's backlog as sampled for the gauges: events waiting and the oldest one's age. */
export interface OutboxBacklogSample {
  events: number;
  oldestAgeSeconds: number;
}

/** A scrape waits this long for the backlog query, in ms; past it the gauges keep their last value. */
const BACKLOG_SAMPLE_TIMEOUT_MS = 2000;

/** Buckets for HTTP and RPC latencies, in seconds: sub-millisecond RPCs up to bcrypt logins. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface ServiceMetricsOptions {
  /** The `service` label every series carries (the service's SERVICE_NAME). */
  service: string;
  /** Its database pool is sampled at each scrape when given. */
  sequelize?: Sequelize;
  /** Process metrics (CPU, memory, event loop). Default true; tests building several instances pass false. */
  collectProcessMetrics?: boolean;
}

/**
 * The Prometheus metrics every service has — HTTP, broker reconnects, the auth-events
 * subscriber, the outbox and its relay, the database pool — in a registry of their own (one per
 * app, so tests can build several apps in one process). A service extends it with its own.
 * Names follow Prometheus conventions: units in the name, `_total` on counters.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status, in seconds',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly brokerReconnects = new Counter({
    name: 'amqp_reconnects_total',
    help: 'Connections to RabbitMQ re-established after a loss',
    registers: [this.registry],
  });

  readonly authEventsReceived = new Counter({
    name: 'auth_events_received_total',
    help: 'Schema-valid auth events received on the auth-events queue, by type (duplicates included)',
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

  readonly outboxEventsPublished = new Counter({
    name: 'outbox_events_published_total',
    help: 'Events published from the outbox and confirmed by the broker, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly outboxPublishFailures = new Counter({
    name: 'outbox_publish_failures_total',
    help: 'Events whose publish attempt failed (broker gone, nack, confirm timeout); they are retried',
    registers: [this.registry],
  });

  readonly outboxEventsParked = new Counter({
    name: 'outbox_events_parked_total',
    help: 'Events parked because they can never be published (they fail their schema)',
    registers: [this.registry],
  });

  constructor(options: ServiceMetricsOptions) {
    if (options.collectProcessMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.registry.setDefaultLabels({ service: options.service });
    if (options.sequelize) registerPoolGauges(this.registry, options.sequelize);
  }

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

  readonly outboxObserver: OutboxObserver = {
    eventPublished: (type) => {
      this.outboxEventsPublished.inc({ type });
    },
    publishFailed: (events) => {
      this.outboxPublishFailures.inc(events);
    },
    eventParked: () => {
      this.outboxEventsParked.inc();
    },
  };

  /** A gauge set from `read()` at each scrape (a cache's entries, calls in flight). */
  protected sampledGauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /**
   * Samples the outbox backlog at each scrape, with one query shared by both gauges. A query
   * that fails or takes too long leaves the gauges at their last value rather than failing
   * the scrape: /metrics must answer while the database is down.
   */
  trackOutboxBacklog(readBacklog: () => Promise<OutboxBacklogSample>): void {
    const sample = sharedSample(readBacklog, BACKLOG_SAMPLE_TIMEOUT_MS);
    new Gauge({
      name: 'outbox_backlog_events',
      help: 'Events recorded in the outbox and not yet published (parked ones excluded)',
      registers: [this.registry],
      async collect() {
        const backlog = await sample();
        if (backlog) this.set(backlog.events);
      },
    });
    new Gauge({
      name: 'outbox_oldest_unpublished_age_seconds',
      help: 'Age of the oldest event waiting in the outbox, in seconds; 0 when none waits',
      registers: [this.registry],
      async collect() {
        const backlog = await sample();
        if (backlog) this.set(backlog.oldestAgeSeconds);
      },
    });
  }
}

/**
 * One read at a time, shared by every caller while it runs (the gauges of one scrape), settling
 * to undefined instead of failing or waiting past `timeoutMs`.
 */
function sharedSample<T>(read: () => Promise<T>, timeoutMs: number): () => Promise<T | undefined> {
  let inFlight: Promise<T | undefined> | undefined;
  return () => {
    if (!inFlight) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => {
          resolve(undefined);
        }, timeoutMs);
      });
      inFlight = Promise.race([read().catch(() => undefined), timeout]).finally(() => {
        clearTimeout(timer);
        inFlight = undefined;
      });
    }
    return inFlight;
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
