import autocannon from 'autocannon';

/** What a flood saw: every answer's latency by status, and the requests that got no answer. */
export interface FloodResult {
  /** Latencies in ms of the answers of each status (`'200'`, `'503'`, ...). */
  latenciesByStatus: Record<string, number[]>;
  /** Requests that failed without an answer (reset, refused, past autocannon's timeout). */
  errors: number;
  /** Seconds the flood lasted. */
  seconds: number;
}

export interface FloodOptions {
  url: string;
  /** Concurrent connections, each sending its next request when the previous one is answered. */
  connections: number;
  /** How long the flood lasts, in seconds. */
  seconds: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** A request unanswered after this many seconds counts as an error. Default 10. */
  timeoutSeconds?: number;
  /**
   * Requests per second over all connections (open loop: arrivals do not wait for answers, as
   * many independent users); unset, each connection sends again as soon as it is answered.
   */
  ratePerSecond?: number;
}

/**
 * Drives autocannon (the bench's load generator) against one URL for a bounded time, recording
 * each answer's latency by status, so a test can tell the shed answers from the accepted ones.
 */
export async function flood(options: FloodOptions): Promise<FloodResult> {
  const latenciesByStatus: Record<string, number[]> = {};
  let errors = 0;
  let finish: (error: unknown, result: autocannon.Result) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) => {
      if (error) reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }));
      else resolve(result);
    };
  });
  const instance = autocannon(
    {
      url: options.url,
      method: options.method ?? 'GET',
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.body === undefined ? {} : { body: options.body }),
      connections: options.connections,
      duration: options.seconds,
      timeout: options.timeoutSeconds ?? 10,
      sampleInt: 100,
      ...(options.ratePerSecond === undefined ? {} : { overallRate: options.ratePerSecond }),
    },
    (error: unknown, result) => {
      finish(error, result);
    },
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    (latenciesByStatus[String(statusCode)] ??= []).push(responseTime);
  });
  instance.on('reqError', () => {
    errors += 1;
  });
  const result = await done;
  return { latenciesByStatus, errors, seconds: result.duration };
}

/** The `q` quantile (0–1) of `values`, nearest rank; NaN when there are none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}
