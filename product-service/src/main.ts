/**
 * Entry point: config → tracing (only when an OTLP endpoint is set) → serve.ts, which opens the
 * database, wires the service and listens. Everything serve.ts imports (express, pg, amqplib)
 * is loaded only after tracing has started, so its instrumentation sees those modules load.
 */
import { existsSync } from 'node:fs';

import { runMain } from '@shop/shared-runtime';
import { startTracing } from '@shop/shared-runtime/tracing';

import { loadConfig } from './config';
import { SERVICE_NAME, SERVICE_VERSION } from './service-info';

runMain(SERVICE_NAME, async () => {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const tracing = await startTracing(config.tracing, { serviceName: SERVICE_NAME, serviceVersion: SERVICE_VERSION });
  const { serve } = await import('./serve.js');
  await serve(config, tracing);
});
