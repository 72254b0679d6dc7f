/**
 * Times individual HTTP requests: either `concurrency` closed loops, or an open loop sending
 * at a steady `ratePerSecond`, until `requests` were sent. Used for the time to a 503, where
 * each answer's latency is the figure. autocannon's rate mode adds tens of ms per answer at
 * 100 requests/s over 100+ connections (measured against the same service: 1048 ms p50 under
 * autocannon, 1004 ms with plain http), so this uses node:http directly. Prints a RunMeasurement.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

import { summariseRun } from '../measurement';
import { finishWorker, workerInput } from '../processes';

export interface LatencyProbeSpec {
  url: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  body: string;
  requests: number;
  /** Closed loops when set (each sends its next request once the last is answered). */
  concurrency?: number;
  /** Otherwise an open loop: this many requests per second, whatever the answers do. */
  ratePerSecond?: number;
  expectStatuses: number[];
}

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

/** One request; resolves with its status (0 on a network error) and latency in ms. */
function send(spec: LatencyProbeSpec): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(spec.url, { method: spec.method, headers: spec.headers, agent }, (res) => {
      res.resume();
      res.once('end', () => {
        resolve({ status: res.statusCode ?? 0, ms: performance.now() - started });
      });
    });
    req.once('error', () => {
      resolve({ status: 0, ms: performance.now() - started });
    });
    req.end(spec.body);
  });
}

async function main(): Promise<void> {
  const spec = workerInput() as LatencyProbeSpec;
  const latenciesMs: number[] = [];
  const outcomes: Record<string, number> = {};
  let errors = 0;
  const record = ({ status, ms }: { status: number; ms: number }): void => {
    if (status === 0) {
      errors += 1;
      return;
    }
    latenciesMs.push(ms);
    outcomes[String(status)] = (outcomes[String(status)] ?? 0) + 1;
  };
  const started = performance.now();
  if (spec.ratePerSecond) {
    const intervalMs = 1000 / spec.ratePerSecond;
    const inFlight: Promise<void>[] = [];
    for (let sent = 0; sent < spec.requests; sent += 1) {
      // Scheduled against the start, so a late timer does not slow the rate down.
      const due = started + sent * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight.push(send(spec).then(record));
    }
    await Promise.all(inFlight);
  } else {
    let sent = 0;
    const loop = async (): Promise<void> => {
      while (sent < spec.requests) {
        sent += 1;
        record(await send(spec));
      }
    };
    await Promise.all(Array.from({ length: spec.concurrency ?? 1 }, loop));
  }
  const seconds = (performance.now() - started) / 1000;
  finishWorker(summariseRun({ latenciesMs, outcomes, errors, seconds, expected: spec.expectStatuses.map(String) }));
}

main().catch((error: unknown) => {
  process.stderr.write(`latency-probe: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
