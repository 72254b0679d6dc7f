import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino removes from every log line: bearer tokens must never reach the logs, whether
 * they arrive in a header, a body or an error's context.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  'access_token',
  '*.token',
  '*.access_token',
];

export function createLogger(options: { level: string; service: string; version: string }): Logger {
  return pino({
    level: options.level,
    base: { service: options.service, version: options.version },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  });
}
