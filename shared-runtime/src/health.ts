/** One dependency's state as `GET /health` reports it. */
export interface DependencyStatus {
  status: 'up' | 'down';
  [detail: string]: unknown;
}

/** A named probe of one dependency (database, broker). It must not throw. */
export interface HealthCheck {
  name: string;
  check(): Promise<DependencyStatus>;
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
