import type { RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import { pinoHttp } from 'pino-http';

import { REQUEST_ID_HEADER, TRACEPARENT_HEADER, isSafeRequestId, isValidTraceparent } from '@shop/shared-contracts';

import type { Logger } from '../logger';
import type { ChangeContext } from '../services/change-context';
import { currentTraceContext, runWithTraceContext } from '../trace-context';

/** Query parameters whose values never reach the logs, should a client put a secret in a URL. */
const SECRET_QUERY_PARAMETER = /([?&](?:password|token|access_token|refresh_token|client_secret)=)[^&#]*/gi;

/** The request URL as logged: secrets a client put in the query string are masked. */
export function loggableUrl(url: string): string {
  return url.replace(SECRET_QUERY_PARAMETER, '$1[redacted]');
}

/**
 * Gives every request an id (the client's `X-Request-Id` when it is a sane value, else a new
 * uuid), echoes it on the response, and logs one line per request with that id.
 */
export function requestContext(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (req, res) => {
      const incoming = req.headers[REQUEST_ID_HEADER];
      const id = isSafeRequestId(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    // Read again when the response finishes, by which time requireAuth knows the user.
    customProps: () => userFields(),
    customLogLevel: (_req, res, error) => {
      if (error || res.statusCode >= 500) return 'error';
      return res.statusCode >= 400 ? 'warn' : 'info';
    },
    // Only these fields, never headers or bodies: that is where passwords and tokens travel.
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        url: loggableUrl(req.url),
      }),
      res: (res: { statusCode: number }) => ({ status: res.statusCode }),
    },
  });
}

/** The id {@link requestContext} gave this request. */
export function requestIdOf(req: { id?: unknown }): string {
  return typeof req.id === 'string' ? req.id : '';
}

/** What a service records about the request that asked for a change: its id, for the events it causes. */
export function changeContextOf(req: { id?: unknown }): ChangeContext {
  const requestId = requestIdOf(req);
  return { requestId: requestId === '' ? null : requestId };
}

/**
 * Makes the request's ids (and a valid W3C `traceparent`, if sent) the trace context of
 * everything that handles it: log lines, and the AMQP headers of the RPCs it causes.
 */
export function traceContext(): RequestHandler {
  return (req, _res, next) => {
    const traceparent = req.headers[TRACEPARENT_HEADER];
    runWithTraceContext(
      { requestId: requestIdOf(req), ...(isValidTraceparent(traceparent) ? { traceparent } : {}) },
      next,
    );
  };
}

/** The authenticated user of the current request, for the access log line. */
function userFields(): Record<string, number> {
  const userId = currentTraceContext()?.userId;
  return userId === undefined ? {} : { user_id: userId };
}
