import type { WindowMark } from './cpu-usage';
import type { RunMeasurement } from './measurement';
import { runWorker } from './processes';

/** One HTTP load run, as the autocannon worker takes it (plain JSON: it crosses a process boundary). */
export interface HttpLoadSpec {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Statuses that count as done, e.g. [201]; everything else counts as failed. */
  expectStatuses: number[];
  /** Replace the path per request by `${prefix}${random integer in [min, max]}`. */
  idPath?: { prefix: string; min: number; max: number };
  /**
   * Bearer tokens handed to the requests in turn, so concurrent requests carry different
   * tokens, as concurrent clients would: with one shared token, validations in flight together
   * share one RPC and the run would measure that, not the RPC path. Give at least as many as
   * connections.
   */
  bearerTokens?: string[];
}

/**
 * Runs autocannon in a child process, so the load generator's CPU is its own process's and
 * not the bench's, and returns the measured window.
 */
export function runHttpLoad(spec: HttpLoadSpec, onMark?: (mark: WindowMark) => void): Promise<RunMeasurement> {
  return runWorker<RunMeasurement>('workers/http-load.worker', spec, onMark);
}
