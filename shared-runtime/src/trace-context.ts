import { AsyncLocalStorage } from 'node:async_hooks';

import { TraceFlags, isSpanContextValid, trace, type SpanContext } from '@opentelemetry/api';

import { isValidTraceparent, traceIdOf } from '@shop/shared-contracts';

/**
 * The W3C `traceparent` of the span running now when the OpenTelemetry SDK is recording one;
 * undefined otherwise. Without the SDK the API finds no span: a lookup and nothing else.
 */
export function activeSpanTraceparent(): string | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && isSpanContextValid(spanContext) ? traceparentOf(spanContext) : undefined;
}

/**
 * What ties work done now to the request that caused it: the active span's `traceparent`
 * ({@link activeSpanTraceparent}), else the caller's `traceparent` of the current trace
 * context; undefined when neither.
 */
export function activeTraceparent(): string | undefined {
  return activeSpanTraceparent() ?? storage.getStore()?.traceparent;
}

/** `spanContext` as a W3C `traceparent` (version 00). */
export function traceparentOf(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** The span context a valid `traceparent` names, as a remote parent or link; undefined for anything else. */
export function spanContextOf(traceparent: unknown): SpanContext | undefined {
  if (!isValidTraceparent(traceparent)) return undefined;
  return {
    traceId: traceparent.slice(3, 35),
    spanId: traceparent.slice(36, 52),
    traceFlags: Number.parseInt(traceparent.slice(53, 55), 16),
    isRemote: true,
  };
}

/** What ties log lines and messages to the request that caused them. */
export interface TraceContext {
  requestId: string;
  /** The caller's W3C `traceparent`, forwarded unchanged; absent when none (valid) was sent. */
  traceparent?: string;
  /** The authenticated user, once known. */
  userId?: number;
}

const storage = new AsyncLocalStorage<TraceContext>();

/**
 * Runs `work` with `context` as the current trace context: every log line written and every
 * message sent while it runs (including in promises it starts) carries the request's ids.
 */
export function runWithTraceContext<T>(context: TraceContext, work: () => T): T {
  return storage.run(context, work);
}

export function currentTraceContext(): TraceContext | undefined {
  return storage.getStore();
}

/** The fields of the current trace context that every log line carries. */
export function traceLogFields(): Record<string, string | number> {
  const context = storage.getStore();
  if (!context) return {};
  return {
    ...(context.requestId ? { request_id: context.requestId } : {}),
    ...(context.traceparent ? { trace_id: traceIdOf(context.traceparent) } : {}),
    ...(context.userId !== undefined ? { user_id: context.userId } : {}),
  };
}
