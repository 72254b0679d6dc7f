import type { DestinationStream } from 'pino';

import { createLogger, type Logger } from '@shop/shared-runtime';

import { SERVICE_NAME, SERVICE_VERSION } from './service-info';

/** product-service's logger: every line names the service and version; bearer tokens are redacted (REDACTED_PATHS). */
export function createServiceLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return createLogger({ ...options, service: SERVICE_NAME, version: SERVICE_VERSION });
}
