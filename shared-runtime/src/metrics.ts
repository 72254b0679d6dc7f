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
  /** A message whose AMQP `userId` is not user-service's broker user (a forgery), dropped. */
  unverifiedSender(): void;
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
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What a cache of token checks reports; `R` names why entries leave it. */
export interface CacheObserver<R extends string> {
  hit(): void;
  miss(): void;
  /** A lookup joined one already in flight for the same key. */
  shared(): void;
  evicted(reason: R, count: number): void;
}

/** The help texts of a cache's series (see {@link ServiceMetrics.cacheMetrics}). */
export interface CacheMetricsHelp {
  hits: string;
  misses: string;
  shared: string;
  evictions: string;
  entries: string;
}

/** A cache's counters behind its observer, and the gauge of its entries. */
export interface CacheMetrics<R extends string> {
  readonly observer: CacheObserver<R>;
  /** Samples the cache's entries at each scrape. */
  trackEntries(entryCount: () => number): void;
}

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

  readonly httpRequestDuration = this.latencyHistogram(
    'http_request_duration_seconds',
    'HTTP requests by method, route pattern and status, in seconds',
    ['method', 'route', 'status'],
  );

  readonly brokerReconnects = this.counter(
    'amqp_reconnects_total',
    'Connections to RabbitMQ re-established after a loss',
  );

  private readonly authEventsReceived = this.counter(
    'auth_events_received_total',
    'Schema-valid auth events received on the auth-events queue, by type (duplicates included)',
    ['type'],
  );

  private readonly authEventsDuplicates = this.counter(
    'auth_events_duplicates_total',
    'Auth events dropped because their id had already been handled',
  );

  private readonly authEventsMalformed = this.counter(
    'auth_events_malformed_total',
    'Messages on the auth-events queue that were not auth events, dropped',
  );

  private readonly authEventsUnverified = this.counter(
    'auth_events_unverified_sender_total',
    "Messages on the auth-events queue whose AMQP userId is not user-service's broker user, dropped",
  );

  private readonly outboxEventsPublished = this.counter(
    'outbox_events_published_total',
    'Events published from the outbox and confirmed by the broker, by type',
    ['type'],
  );

  private readonly outboxPublishFailures = this.counter(
    'outbox_publish_failures_total',
    'Events whose publish attempt failed (broker gone, nack, confirm timeout); they are retried',
  );

  private readonly outboxEventsParked = this.counter(
    'outbox_events_parked_total',
    'Events parked because they can never be published (they fail their schema)',
  );

  /** Calls answered 503 at once, without touching the broker, because it was blocking publishing. */
  readonly flowControlFastFailures = this.counter(
    'amqp_blocked_fast_failures_total',
    'Calls failed at once with 503 because RabbitMQ was not accepting messages (memory or disk alarm, full write buffer)',
  );

  /** Requests answered 503 at the door because the service was past a load limit, by limit. */
  readonly requestsShed = this.counter(
    'http_requests_shed_total',
    'Requests answered 503 before any work because the service was overloaded, by limit (in_flight, event_loop_delay)',
    ['limit'],
  );

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
    unverifiedSender: () => {
      this.authEventsUnverified.inc();
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

  /** A counter in this registry. */
  protected counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A latency histogram in this registry, in seconds ({@link LATENCY_BUCKETS}). */
  protected latencyHistogram<L extends string>(name: string, help: string, labelNames: readonly L[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers: [this.registry] });
  }

  /**
   * A counter of events by outcome and a latency histogram of the same events (both labelled
   * `outcome`); the function returned records one event in both.
   */
  protected outcomeMetrics(
    counter: { name: string; help: string },
    histogram: { name: string; help: string },
  ): (outcome: string, seconds: number) => void {
    const count = this.counter(counter.name, counter.help, ['outcome']);
    const duration = this.latencyHistogram(histogram.name, histogram.help, ['outcome']);
    return (outcome, seconds) => {
      count.inc({ outcome });
      duration.observe({ outcome }, seconds);
    };
  }

  /**
   * The series of a cache named `prefix` (`auth_cache`): `<prefix>_hits_total`, `_misses_total`,
   * `_shared_total`, `_evictions_total` by reason, and the `<prefix>_entries` gauge.
   */
  protected cacheMetrics<R extends string>(prefix: string, help: CacheMetricsHelp): CacheMetrics<R> {
    const hits = this.counter(`${prefix}_hits_total`, help.hits);
    const misses = this.counter(`${prefix}_misses_total`, help.misses);
    const shared = this.counter(`${prefix}_shared_total`, help.shared);
    const evictions = this.counter(`${prefix}_evictions_total`, help.evictions, ['reason']);
    return {
      observer: {
        hit: () => {
          hits.inc();
        },
        miss: () => {
          misses.inc();
        },
        shared: () => {
          shared.inc();
        },
        evicted: (reason, count) => {
          evictions.inc({ reason }, count);
        },
      },
      trackEntries: (entryCount) => {
        this.sampledGauge(`${prefix}_entries`, help.entries, entryCount);
      },
    };
  }

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

  /** `amqp_publishing_blocked`: 1 while RabbitMQ is not accepting this process's messages, else 0. */
  trackFlowControl(flow: { readonly isBlocked: boolean }): void {
    this.sampledGauge(
      'amqp_publishing_blocked',
      'Whether RabbitMQ is blocking this process from publishing (1: memory or disk alarm, or a full write buffer)',
      () => (flow.isBlocked ? 1 : 0),
    );
  }

  /** Samples the requests in progress and the event-loop delay the load shedder decides on, at each scrape. */
  trackLoadShedding(shedder: { readonly inFlight: number; readonly eventLoopDelayMs: number }): void {
    this.sampledGauge('http_requests_in_flight', 'HTTP requests in progress (health and metrics excluded)', () => {
      return shedder.inFlight;
    });
    this.sampledGauge(
      'http_event_loop_delay_seconds',
      'The event-loop delay the load shedder last measured (mean over its sample window), in seconds',
      () => shedder.eventLoopDelayMs / 1000,
    );
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
