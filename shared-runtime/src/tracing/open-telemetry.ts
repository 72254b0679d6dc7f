import type { IncomingMessage } from 'node:http';

import { OTLPTraceExporter as OtlpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { AmqplibInstrumentation } from '@opentelemetry/instrumentation-amqplib';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

import type { TracingConfig } from '../config';
import type { Tracing, TracingResource } from './index';

/** Paths scraped or probed every few seconds: a span each would bury the requests worth seeing. */
const UNTRACED_PATH = /^\/(?:metrics|health(?:\/live|\/ready)?)(?:\?|$)/;

/**
 * The SDK itself, imported by {@link startTracing} only when tracing is on. Spans go through a
 * batch processor (`OTEL_BSP_*`) to the OTLP/HTTP exporter of the configured encoding, which
 * reads the endpoint, headers, timeout and compression from the standard variables. Registering
 * the provider installs the AsyncLocalStorage context manager and the W3C `traceparent`
 * propagator, which the amqplib instrumentation uses to carry the trace across the RPC hop in
 * the same header the services already forwarded.
 */
export function startOpenTelemetry(config: TracingConfig, resource: TracingResource): Tracing {
  const exporter = config.protocol === 'http/json' ? new OtlpJsonTraceExporter() : new OtlpProtobufTraceExporter();
  const provider = new NodeTracerProvider({
    // Later merges win: the standard variables override the service's own name and version.
    resource: defaultResource()
      .merge(
        resourceFromAttributes({
          [ATTR_SERVICE_NAME]: resource.serviceName,
          [ATTR_SERVICE_VERSION]: resource.serviceVersion,
        }),
      )
      .merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request: IncomingMessage) => UNTRACED_PATH.test(request.url ?? ''),
      }),
      // Routers and handlers get spans; the dozen middlewares every request passes through do not.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      // Only queries made for something traced: not the outbox relay's polling or the metrics' samples.
      new PgInstrumentation({ requireParentSpan: true }),
      new AmqplibInstrumentation(),
    ],
  });
  return {
    async shutdown() {
      unregister();
      await provider.shutdown();
    },
  };
}
