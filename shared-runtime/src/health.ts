/**
 * One dependency's state as `GET /health` reports it: `up`, `down`, or `blocked` (reachable, but
 * refusing work for now: the broker under a memory or disk alarm, with its reason beside it).
 */
export interface DependencyStatus {
  status: 'up' | 'down' | 'blocked';
  [detail: string]: unknown;
}

/** A named probe of one dependency (database, broker). It must not throw. */
export interface HealthCheck {
  name: string;
  /**
   * True when the instance cannot serve useful traffic without this dependency (its database):
   * readiness then answers 503. A non-critical dependency that is down (the broker) only makes the
   * instance `degraded`, so a broker blip does not take every replica out of its load balancer.
   */
  critical: boolean;
  check(): Promise<DependencyStatus>;
}

/** What readiness answers: `ok`/`degraded` are 200, the rest 503. */
export type Readiness = 'ok' | 'degraded' | 'unavailable' | 'shutting_down';

/** Readiness from the probes' results and whether the instance still takes traffic. */
export function readinessOf(
  results: readonly { critical: boolean; status: DependencyStatus }[],
  acceptingTraffic: boolean,
): Readiness {
  if (!acceptingTraffic) return 'shutting_down';
  if (results.some((result) => result.critical && result.status.status !== 'up')) return 'unavailable';
  if (results.some((result) => result.status.status !== 'up')) return 'degraded';
  return 'ok';
}

/** Runs a probe with a deadline, so a hung dependency reads as down instead of hanging /health. */
export async function probe(run: () => Promise<void>, timeoutMs: number): Promise<DependencyStatus> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      run(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }),
    ]);
    return { status: 'up', latency_ms: Math.round((performance.now() - started) * 10) / 10 };
  } catch (error) {
    return { status: 'down', error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
