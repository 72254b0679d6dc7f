import type { DestinationStream } from 'pino';

import { createLogger, type Logger } from '@shop/shared-runtime';

import { SERVICE_NAME, SERVICE_VERSION } from './service-info';

/**
 * Log paths user-service redacts beyond every service's (REDACTED_PATHS): the passwords it
 * receives and the hashes it stores.
 */
export const REDACTED_USER_PATHS: readonly string[] = [
  'password',
  '*.password',
  '*.hashed_password',
  '*.hashedPassword',
];

/** user-service's logger: every line names the service and version, and no password or hash is ever written. */
export function createServiceLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return createLogger({ ...options, service: SERVICE_NAME, version: SERVICE_VERSION, redact: REDACTED_USER_PATHS });
}
