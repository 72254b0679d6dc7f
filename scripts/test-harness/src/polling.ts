/**
 * How long a test waits for a state it expects, in ms: the house figure for "eventually". A
 * loaded machine reaches the state later, never fails to, so this is a deadline for when
 * something is broken, not a speed goal (those belong in the bench).
 */
export const EVENTUALLY_MS = 10_000;

export interface WaitOptions {
  /** Give up (reject) after this long, in ms. Default {@link EVENTUALLY_MS}. */
  timeoutMs?: number;
  /**
   * Wait between checks, in ms. Default 0: check again on the next turn of the event loop, so
   * that the time resolved with is the state's, not a polling interval's. Give one for checks
   * that cost a round trip (a query, a scrape).
   */
  intervalMs?: number;
}

/**
 * Resolves once `condition` holds, with the ms that took (to log, never to assert); rejects
 * naming `what` once `timeoutMs` have passed without it.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  options: WaitOptions = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? EVENTUALLY_MS;
  const intervalMs = options.intervalMs ?? 0;
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => (intervalMs > 0 ? setTimeout(resolve, intervalMs) : setImmediate(resolve)));
  }
  return performance.now() - started;
}

/**
 * Resolves with what `promise` resolves with, unless it has not settled after `timeoutMs`: then
 * rejects naming `what`. For "this must not hang", where the state is the promise settling.
 */
export async function settlesWithin<T>(promise: Promise<T>, what: string, timeoutMs = EVENTUALLY_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} had not settled after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** PostgreSQL's SQLSTATE for a deadlock it broke by failing one of the statements. */
const DEADLOCK_DETECTED = '40P01';

/**
 * Runs a test's own DDL (a trigger it adds or drops on a table a service is using), again when
 * PostgreSQL broke a deadlock by failing it: the DDL waits for an exclusive lock that a busy
 * service's transaction may ask for again meanwhile (the outbox relay's claim, then its update),
 * and one of the two has to go. The service's side retries by itself; so does this.
 */
export async function retryOnDeadlock<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= attempts || !isDeadlock(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

function isDeadlock(error: unknown): boolean {
  // pg's error carries the code; Sequelize's wraps it as `parent`.
  const { code, parent } = error as { code?: unknown; parent?: { code?: unknown } };
  return code === DEADLOCK_DETECTED || parent?.code === DEADLOCK_DETECTED;
}
