const started = Date.now();

/** One progress line on stderr (stdout carries the table), stamped with the time since start. */
export function progress(message: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}
