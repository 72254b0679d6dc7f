import { runHttpLoad } from '../load';
import { runWorker } from '../processes';
import { SCENARIOS, type Comparison } from '../results';
import type { RunMeasurement } from '../measurement';
import type { BcryptLoadSpec } from '../workers/bcrypt-load.worker';
import { compareAtLevels } from './compare';
import type { ScenarioContext } from './context';

/**
 * Logins in flight, and compares in flight for the ceiling: twice libuv's default thread pool
 * (4), so the pool — where bcrypt runs — never idles for want of work.
 */
const CONCURRENCY = 8;

/** Scenario 4: `POST /login` at the configured bcrypt cost beside async bcrypt compares per second. */
export async function login(ctx: ScenarioContext): Promise<Comparison[]> {
  const { stack, options } = ctx;
  const form = new URLSearchParams({ username: stack.username, password: stack.password }).toString();
  return compareAtLevels(
    {
      scenario: SCENARIOS.login,
      system: `user-service POST /login (bcrypt cost ${options.bcryptRounds})`,
      ceiling: `async bcrypt.compare (cost ${options.bcryptRounds})`,
      levels: [CONCURRENCY],
      unit: 'in flight',
      runSystem: (connections, warmupSeconds, onMark) =>
        runHttpLoad(
          {
            url: `${stack.user.baseUrl}/login`,
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: form,
            connections,
            warmupSeconds,
            durationSeconds: options.durationSeconds,
            expectStatuses: [200],
          },
          onMark,
        ),
      runCeiling: (concurrency, warmupSeconds, onMark) =>
        runWorker<RunMeasurement>(
          'workers/bcrypt-load.worker',
          {
            rounds: options.bcryptRounds,
            concurrency,
            warmupSeconds,
            durationSeconds: options.durationSeconds,
          } satisfies BcryptLoadSpec,
          onMark,
        ),
    },
    options,
  );
}
