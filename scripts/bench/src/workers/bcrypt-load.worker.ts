/**
 * The login ceiling: async bcrypt compares (libuv's thread pool, like user-service's) kept
 * `concurrency` at a time for a while, at the configured cost. Prints a RunMeasurement.
 */
import bcrypt from 'bcrypt';
import { performance } from 'node:perf_hooks';

import { summariseRun } from '../measurement';
import { finishWorker, markWindow, workerInput } from '../processes';

export interface BcryptLoadSpec {
  rounds: number;
  concurrency: number;
  warmupSeconds: number;
  durationSeconds: number;
}

async function drive(hash: string, spec: BcryptLoadSpec, seconds: number) {
  const latenciesMs: number[] = [];
  let matched = 0;
  const started = performance.now();
  const stopAt = started + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const sent = performance.now();
      const match = await bcrypt.compare('bench-password-1', hash);
      const done = performance.now();
      // Like autocannon, count only what finished inside the window.
      if (done > stopAt) return;
      if (match) matched += 1;
      latenciesMs.push(done - sent);
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
  return { latenciesMs, outcomes: { match: matched }, errors: 0, seconds: (stopAt - started) / 1000 };
}

async function main(): Promise<void> {
  const spec = workerInput() as BcryptLoadSpec;
  const hash = await bcrypt.hash('bench-password-1', spec.rounds);
  if (spec.warmupSeconds > 0) await drive(hash, spec, spec.warmupSeconds);
  markWindow('start');
  // The end of the window, not of the compares still running then (they are not counted).
  const windowEnd = setTimeout(() => {
    markWindow('end');
  }, spec.durationSeconds * 1000);
  const measured = await drive(hash, spec, spec.durationSeconds);
  clearTimeout(windowEnd);
  finishWorker(summariseRun({ ...measured, expected: ['match'] }));
}

main().catch((error: unknown) => {
  process.stderr.write(`bcrypt-load: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
