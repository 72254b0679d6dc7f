import { pino, type DestinationStream, type Logger } from 'pino';

import { traceLogFields } from './trace-context';

export type { Logger };

/**
 * Paths pino removes from every log line of every service: credentials must never reach the
 * logs, whether they arrive in a header, a body or an error's context. A service adds the
 * paths of its own secrets ({@link LoggerOptions.redact}).
 */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  'access_token',
  '*.token',
  '*.access_token',
  // A failed query's bound values (a password hash on INSERT) travel on Sequelize's errors.
  'err.parameters',
  'err.cause.parameters',
];

export interface LoggerOptions {
  level: string;
  service: string;
  version: string;
  /** Paths redacted beyond {@link REDACTED_PATHS}: the service's own secrets (`*.password`). */
  redact?: readonly string[];
  /** Where the JSON lines go; stdout when absent (tests pass a stream to read them). */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service, version: options.version },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACTED_PATHS, ...(options.redact ?? [])], censor: '[redacted]' },
      // Every line written while handling a request or an RPC carries its ids.
      mixin: traceLogFields,
    },
    options.destination,
  );
}
