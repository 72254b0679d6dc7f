/**
 * Runs autocannon against one URL in this process, apart from the bench and the targets:
 * an untimed warm-up, then the measured window. Prints a RunMeasurement.
 */
import autocannon from 'autocannon';

import { summariseRun } from '../measurement';
import { finishWorker, markWindow, workerInput } from '../processes';
import type { HttpLoadSpec } from '../load';

/** Longest wait for abandoned requests to finish after a run, in ms. */
const MAX_DRAIN_MS = 5000;

/** One autocannon run; resolves with each answer's latency (ms) and status, and the errors. */
async function drive(
  spec: HttpLoadSpec,
  seconds: number,
): Promise<{ latenciesMs: number[]; outcomes: Record<string, number>; errors: number; seconds: number }> {
  const latenciesMs: number[] = [];
  const outcomes: Record<string, number> = {};
  let errors = 0;
  const { idPath, bearerTokens } = spec;
  let nextToken = 0;
  let finish: (error: unknown, result: autocannon.Result) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) => {
      if (error) reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }));
      else resolve(result);
    };
  });
  // The callback form returns the instance, whose events give each answer's latency.
  const instance = autocannon(
    {
      url: spec.url,
      method: spec.method,
      headers: spec.headers,
      body: spec.body,
      connections: spec.connections,
      duration: seconds,
      timeout: 30,
      // autocannon checks for the end of a run once per sample: 100 ms keeps short runs short.
      sampleInt: 100,
      // Per-request paths (GET /products/{id} over the seeded ids) and tokens are
      // set here, not in the spec, because functions do not cross the process boundary.
      ...(idPath || bearerTokens
        ? {
            requests: [
              {
                setupRequest: (request: autocannon.Request) => {
                  let changed = request;
                  if (idPath) {
                    const id = idPath.min + Math.floor(Math.random() * (idPath.max - idPath.min + 1));
                    changed = { ...changed, path: `${idPath.prefix}${id}` };
                  }
                  if (bearerTokens) {
                    // Round robin: the requests in flight at once are consecutive, so with at
                    // least as many tokens as connections no two of them share a token.
                    const token = bearerTokens[nextToken % bearerTokens.length] ?? '';
                    nextToken += 1;
                    changed = { ...changed, headers: { ...changed.headers, authorization: `Bearer ${token}` } };
                  }
                  return changed;
                },
              },
            ],
          }
        : {}),
    },
    (error: unknown, result) => {
      finish(error, result);
    },
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    latenciesMs.push(responseTime);
    outcomes[String(statusCode)] = (outcomes[String(statusCode)] ?? 0) + 1;
  });
  instance.on('reqError', () => {
    errors += 1;
  });
  const result = await done;
  return { latenciesMs, outcomes, errors, seconds: result.duration };
}

/**
 * autocannon ends a run by closing its sockets, abandoning the requests in flight; the server
 * still finishes them (a login's bcrypt, say). Waiting as long as the slowest answer took lets
 * that work end before the next window — this one's, or another target's — starts.
 */
async function drain(latenciesMs: number[]): Promise<void> {
  const slowest = latenciesMs.reduce((max, latency) => Math.max(max, latency), 0);
  await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_DRAIN_MS, Math.ceil(slowest))));
}

async function main(): Promise<void> {
  const spec = workerInput() as HttpLoadSpec;
  if (spec.warmupSeconds > 0) await drain((await drive(spec, spec.warmupSeconds)).latenciesMs);
  markWindow('start');
  const measured = await drive(spec, spec.durationSeconds);
  markWindow('end');
  await drain(measured.latenciesMs);
  finishWorker(summariseRun({ ...measured, expected: spec.expectStatuses.map(String) }));
}

main().catch((error: unknown) => {
  process.stderr.write(`http-load: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
