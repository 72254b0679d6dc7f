import type { Logger } from './logger';
import { ConfigError } from './config';

/** A shutdown that has not finished by then is forced, in ms. */
export const SHUTDOWN_DEADLINE_MS = 10_000;

/**
 * Runs a service's `main`. A start that fails prints one line to stderr — a ConfigError's own
 * message, else `<service> failed to start: <reason>` — and exits 1.
 */
export function runMain(service: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    const line = error instanceof ConfigError ? error.message : `${service} failed to start: ${describe(error)}`;
    process.stderr.write(`${line}\n`);
    process.exit(1);
  });
}

/** An unhandled rejection or uncaught exception is logged and ends the process with 1. */
export function installCrashHandlers(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    process.exit(1);
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });
}

/**
 * On the first SIGTERM or SIGINT runs `shutdown` once and exits 0 when it is done; a shutdown
 * still running after `deadlineMs` is forced with exit 1.
 */
export function onShutdownSignal(
  logger: Logger,
  shutdown: () => Promise<void>,
  deadlineMs: number = SHUTDOWN_DEADLINE_MS,
): void {
  let shuttingDown = false;
  const run = async (signal: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown deadline passed; forcing exit');
      process.exit(1);
    }, deadlineMs).unref();
    await shutdown();
    logger.info('shut down cleanly');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void run(signal));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
