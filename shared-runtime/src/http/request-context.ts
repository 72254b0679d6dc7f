import type { Request, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';

import { REQUEST_ID_HEADER, TRACEPARENT_HEADER, isSafeRequestId, isValidTraceparent } from '@shop/shared-contracts';

import type { Logger } from '../logger';
import type { ChangeContext } from '../change-context';
import { activeSpanTraceparent, runWithTraceContext, type TraceContext } from '../trace-context';

/** Query parameters whose values never reach the logs, should a client put a secret in a URL. */
const SECRET_QUERY_PARAMETER = /([?&](?:password|token|access_token|refresh_token|client_secret)=)[^&#]*/gi;

/** The request URL as logged: secrets a client put in the query string are masked. */
export function loggableUrl(url: string): string {
  return url.replace(SECRET_QUERY_PARAMETER, '$1[redacted]');
}

/**
 * The first middleware of every request. Gives it an id (the client's `X-Request-Id` when it
 * is a sane value, else a new uuid) and echoes it on the response; makes that id, with a valid
 * W3C `traceparent` — the request's server span's when OpenTelemetry traces it, else the one
 * the client sent, if valid — the trace context of everything that handles the request
 * (log lines, and the AMQP headers of the RPCs it causes); and logs one access line when the
 * response is finished, at info (2xx/3xx), warn (4xx) or error (5xx).
 *
 * A hand-written access log rather than pino-http: the trace context already puts the ids on
 * every line, so no child logger is needed per request, and a level that logs nothing costs
 * nothing — pino-http's per-request work was a tenth of product-service's CPU on its hot paths
 * (docs/benchmarks.md).
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers[REQUEST_ID_HEADER];
    const id = isSafeRequestId(incoming) ? incoming : randomUUID();
    (req as { id?: string }).id = id;
    res.setHeader('X-Request-Id', id);
    const sent = req.headers[TRACEPARENT_HEADER];
    const traceparent = activeSpanTraceparent() ?? (isValidTraceparent(sent) ? sent : undefined);
    const context: TraceContext = { requestId: id, ...(traceparent ? { traceparent } : {}) };
    const startedAt = performance.now();
    res.once('close', () => {
      logAccess(logger, req, res, context, performance.now() - startedAt);
    });
    runWithTraceContext(context, next);
  };
}

/** The access line: only these fields, never headers or bodies (where passwords and tokens travel). */
function logAccess(logger: Logger, req: Request, res: Response, context: TraceContext, ms: number): void {
  const finished = res.writableFinished;
  const level = !finished || res.statusCode < 400 ? 'info' : res.statusCode < 500 ? 'warn' : 'error';
  if (!logger.isLevelEnabled(level)) return;
  logger[level](
    {
      // Explicit: the close event may fire outside the request's async context.
      request_id: context.requestId,
      ...(context.userId === undefined ? {} : { user_id: context.userId }),
      req: { id: context.requestId, method: req.method, url: loggableUrl(req.originalUrl) },
      res: { status: res.statusCode },
      responseTime: Math.round(ms),
    },
    finished ? 'request completed' : 'request aborted',
  );
}

/** The id {@link requestContext} gave this request. */
export function requestIdOf(req: object): string {
  const { id } = req as { id?: unknown };
  return typeof id === 'string' ? id : '';
}

/** What a service records about the request that asked for a change: its id, for the events it causes. */
export function changeContextOf(req: object): ChangeContext {
  const requestId = requestIdOf(req);
  return { requestId: requestId === '' ? null : requestId };
}
