import { AsyncLocalStorage } from 'node:async_hooks';

import { traceIdOf } from '@shop/shared-contracts';

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
