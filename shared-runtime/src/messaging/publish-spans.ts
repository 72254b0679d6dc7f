import { SpanKind, SpanStatusCode, context, trace, type Link, type Span } from '@opentelemetry/api';

import { spanContextOf } from '../trace-context';

/**
 * The tracer of the runtime's own spans. Without the OpenTelemetry SDK it is the API's no-op
 * tracer: its spans record nothing and cost an allocation.
 */
const tracer = trace.getTracer('@shop/shared-runtime');

/**
 * The span of one event going out of the outbox, opened when the relay hands it to the channel
 * and ended when the broker has confirmed it (or the batch failed). It starts a trace of its own
 * (the request that recorded the event answered long ago) and links to that request's span, read
 * from the outbox row's `traceparent`, so a trace viewer leads from the event to its cause.
 */
export function startEventPublishSpan(
  exchange: string,
  event: { id: string; type: string },
  traceparent: string | null,
): Span {
  const cause = spanContextOf(traceparent);
  const links: Link[] = cause ? [{ context: cause }] : [];
  return tracer.startSpan(
    `outbox publish ${event.type}`,
    {
      kind: SpanKind.INTERNAL,
      links,
      attributes: {
        'messaging.system': 'rabbitmq',
        'messaging.destination.name': exchange,
        'messaging.rabbitmq.destination.routing_key': event.type,
        'messaging.message.id': event.id,
      },
    },
    // A root: not a child of whatever the relay's timer or notify happened to run in.
    trace.deleteSpan(context.active()),
  );
}

/** Runs `publish` with `span` current, so the amqplib instrumentation's publish span is its child. */
export function inSpan<T>(span: Span, publish: () => T): T {
  return context.with(trace.setSpan(context.active(), span), publish);
}

/** Ends the spans of a batch: confirmed, or failed with `error`. */
export function endEventPublishSpans(spans: readonly Span[], error?: unknown): void {
  const failure = error === undefined ? undefined : error instanceof Error ? error : new Error(describe(error));
  for (const span of spans) {
    if (failure) {
      span.recordException(failure);
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    }
    span.end();
  }
}

function describe(error: unknown): string {
  return typeof error === 'string' ? error : JSON.stringify(error);
}
