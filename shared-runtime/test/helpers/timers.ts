/** A timer the test fires by hand, in place of setTimeout's. */
export interface CapturedTimer {
  delayMs: number;
  cleared: boolean;
  fire(): void;
}

/**
 * Runs `body` with setTimeout and clearTimeout replaced by recorders, so the delays the code
 * under test asks for are read exactly, and the test fires them (or shows that firing them does
 * nothing) without waiting. `body` is synchronous: the globals are restored before anything else
 * (ava's own timers included) can run.
 */
export function withCapturedTimers(body: (timers: CapturedTimer[]) => void): void {
  const timers: CapturedTimer[] = [];
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  globalThis.setTimeout = ((callback: () => void, delayMs: number) => {
    const timer = {
      delayMs,
      cleared: false,
      fire: () => {
        if (!timer.cleared) callback();
      },
      unref: () => timer,
    };
    timers.push(timer);
    return timer;
  }) as unknown as typeof setTimeout;
  globalThis.clearTimeout = ((timer: { cleared: boolean } | undefined) => {
    if (timer) timer.cleared = true;
  }) as unknown as typeof clearTimeout;
  try {
    body(timers);
  } finally {
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
  }
}
