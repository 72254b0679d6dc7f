/**
 * Runs `work` every `intervalMs` on a timer that does not keep the process alive. `work` must
 * not reject (it handles its own errors); clear the timer with clearInterval.
 */
export function runEvery(intervalMs: number, work: () => Promise<void>): NodeJS.Timeout {
  const timer = setInterval(() => void work(), intervalMs);
  timer.unref();
  return timer;
}
