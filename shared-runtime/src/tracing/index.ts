// `@shop/shared-runtime/tracing`: OpenTelemetry tracing, loaded only when configured. Its whole public surface.
// This entry imports nothing that the SDK instruments, so a service's main can load it first.
import type { TracingConfig } from '../config';

/** A running tracing SDK. */
export interface Tracing {
  /** Exports the spans still buffered and stops the SDK; call it last at shutdown. */
  shutdown(): Promise<void>;
}

/** Who the spans come from (`OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` override these). */
export interface TracingResource {
  serviceName: string;
  serviceVersion: string;
}

/**
 * Starts the OpenTelemetry SDK when `config.enabled`, else does nothing and loads none of its
 * packages (the hot paths then run exactly as without tracing). Call it before the modules it
 * instruments (http, express, pg, amqplib) are first imported: instrumentation patches a module
 * as it is loaded, so a service's main imports the rest of its code only after this resolves.
 */
export async function startTracing(config: TracingConfig, resource: TracingResource): Promise<Tracing | undefined> {
  if (!config.enabled) return undefined;
  const { startOpenTelemetry } = await import('./open-telemetry.js');
  return startOpenTelemetry(config, resource);
}
