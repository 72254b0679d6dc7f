import type { Request, RequestHandler } from 'express';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

import type { LoadSheddingConfig } from '../config';
import { OverloadedError, RETRY_AFTER_SECONDS } from '../errors';
import type { Logger } from '../logger';
import type { ServiceMetrics } from '../metrics';

/**
 * The limits past which a service sheds new requests (0 turns one off). The event-loop delay is
 * the mean of the last sample window, so a lone garbage-collection pause does not shed a window.
 */
export type LoadLimits = LoadSheddingConfig;

/** Which limit a shed request was past (the metrics' `limit` label). */
export type ShedReason = 'in_flight' | 'event_loop_delay';

/** The load a decision is taken on. */
export interface Load {
  inFlight: number;
  eventLoopDelayMs: number;
}

/** How often the event-loop delay is read (and its histogram reset), in ms. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 1000;

/** The event-loop delay histogram's timer period, in ms; every sample includes it, so it is taken off. */
const RESOLUTION_MS = 10;

/**
 * Whether a new request must be shed under `load`, and why: the in-flight limit first (it is
 * exact and current), then the event-loop delay (a mean over the last window).
 */
export function shedReason(load: Load, limits: LoadLimits): ShedReason | undefined {
  if (limits.maxInFlight > 0 && load.inFlight >= limits.maxInFlight) return 'in_flight';
  if (limits.maxEventLoopDelayMs > 0 && load.eventLoopDelayMs > limits.maxEventLoopDelayMs) return 'event_loop_delay';
  return undefined;
}

/** The event-loop delay of a window from its histogram's mean (ns), in ms; 0 for an empty window. */
export function eventLoopDelayOf(meanNs: number): number {
  if (!Number.isFinite(meanNs)) return 0;
  return Math.max(0, meanNs / 1e6 - RESOLUTION_MS);
}

export interface LoadShedderOptions {
  limits: LoadLimits;
  logger: Logger;
  /** Told of every shed request; metrics implement it. */
  onShed?: (reason: ShedReason) => void;
  /** Default {@link DEFAULT_SAMPLE_INTERVAL_MS}. */
  sampleIntervalMs?: number;
}

/**
 * Keeps the load a service is under — requests in progress, and the event-loop delay measured by
 * Node's own `perf_hooks.monitorEventLoopDelay` (a libuv timer histogram, what Fastify's
 * under-pressure reads) — and decides per request whether to take it. Logs at most one line per
 * sample window while it sheds, never one per request: under a flood that would be the load.
 */
export class LoadShedder {
  private readonly limits: LoadLimits;
  private readonly logger: Logger;
  private readonly onShed: ((reason: ShedReason) => void) | undefined;
  private readonly sampleIntervalMs: number;
  private histogram: IntervalHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlightNow = 0;
  private delayMs = 0;
  private shedInWindow: Record<ShedReason, number> = { in_flight: 0, event_loop_delay: 0 };
  /** When the last shedding line was logged (performance.now(), ms). */
  private lastLogAt = Number.NEGATIVE_INFINITY;

  constructor(options: LoadShedderOptions) {
    this.limits = options.limits;
    this.logger = options.logger.child({ component: 'load-shedding' });
    this.onShed = options.onShed;
    this.sampleIntervalMs = options.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
  }

  /** Requests in progress now. */
  get inFlight(): number {
    return this.inFlightNow;
  }

  /** The event-loop delay of the last sample window, in ms. */
  get eventLoopDelayMs(): number {
    return this.delayMs;
  }

  /** Starts measuring the event-loop delay (only when that limit is on). Idempotent. */
  start(): void {
    if (this.timer || this.limits.maxEventLoopDelayMs <= 0) return;
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.sample();
    }, this.sampleIntervalMs);
    this.timer.unref();
  }

  /** Stops measuring. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.histogram?.disable();
    this.histogram = undefined;
  }

  /**
   * Takes a request in (and counts it until `release`) or says why not. The caller calls the
   * returned `release` exactly once, when the response is done.
   */
  admit(): { shed: ShedReason } | { release: () => void } {
    const reason = shedReason({ inFlight: this.inFlightNow, eventLoopDelayMs: this.delayMs }, this.limits);
    if (reason) {
      this.shedInWindow[reason] += 1;
      this.onShed?.(reason);
      // Without the event-loop sampler (that limit off), the in-flight limit logs from here.
      if (!this.timer) this.logShed();
      return { shed: reason };
    }
    this.inFlightNow += 1;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inFlightNow -= 1;
      },
    };
  }

  private sample(): void {
    const histogram = this.histogram;
    if (!histogram) return;
    this.delayMs = eventLoopDelayOf(histogram.count > 0 ? histogram.mean : Number.NaN);
    histogram.reset();
    this.logShed();
  }

  private logShed(): void {
    const shed = this.shedInWindow;
    if (shed.in_flight + shed.event_loop_delay === 0) return;
    const now = performance.now();
    if (now - this.lastLogAt < this.sampleIntervalMs) return;
    this.lastLogAt = now;
    this.logger.warn(
      {
        shed_in_flight: shed.in_flight,
        shed_event_loop_delay: shed.event_loop_delay,
        in_flight: this.inFlightNow,
        event_loop_delay_ms: Math.round(this.delayMs),
        limits: this.limits,
      },
      'shedding load: requests answered 503 over the load limits',
    );
    this.shedInWindow = { in_flight: 0, event_loop_delay: 0 };
  }
}

/** Health, liveness and metrics: never shed, so probes and scrapes see an overloaded instance as it is. */
export function isOperationsPath(path: string): boolean {
  return path === '/metrics' || path === '/health' || path.startsWith('/health/');
}

/** When each connection last had a request shed (performance.now(), ms); gone with the socket. */
const shedSockets = new WeakMap<object, number>();

/** The `Retry-After` every 503 carries, in ms: a client back sooner did not wait for it. */
const RETRY_AFTER_MS = RETRY_AFTER_SECONDS * 1000;

/**
 * Answers 503 with `Retry-After` (through the one error handler) before any other work when the
 * service is past a limit, with `Connection: close` when the same connection was shed within its
 * `Retry-After`; otherwise counts the request in progress until its response closes (finished or
 * aborted). Mount it right after the request context, ahead of the parsers.
 */
export function loadShedding(
  shedder: LoadShedder,
  isExempt: (req: Request) => boolean = (req) => isOperationsPath(req.path),
): RequestHandler {
  return (req, res, next) => {
    if (isExempt(req)) {
      next();
      return;
    }
    const admission = shedder.admit();
    if ('shed' in admission) {
      // A connection that comes straight back after a 503, ignoring Retry-After, loses its
      // keep-alive: reconnecting paces a client that would otherwise spin the event loop on
      // rejections (measured: docs/benchmarks.md), while one that waits keeps its connection.
      const socket = req.socket as object;
      const lastShedAt = shedSockets.get(socket);
      const now = performance.now();
      if (lastShedAt !== undefined && now - lastShedAt < RETRY_AFTER_MS) res.setHeader('Connection', 'close');
      shedSockets.set(socket, now);
      next(new OverloadedError(admission.shed));
      return;
    }
    res.once('close', admission.release);
    next();
  };
}

/**
 * A service's load shedder with its metrics (`http_requests_shed_total{limit}`,
 * `http_requests_in_flight`, `http_event_loop_delay_seconds`), measuring from now on. Hand it to
 * `createHttpApp` and stop it on shutdown.
 */
export function startLoadShedder(limits: LoadLimits, logger: Logger, metrics: ServiceMetrics): LoadShedder {
  const shedder = new LoadShedder({
    limits,
    logger,
    onShed: (reason) => {
      metrics.requestsShed.inc({ limit: reason });
    },
  });
  metrics.trackLoadShedding(shedder);
  shedder.start();
  return shedder;
}
