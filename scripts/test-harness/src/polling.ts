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
