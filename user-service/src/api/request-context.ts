import type { RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import { pinoHttp } from 'pino-http';

import { REQUEST_ID_HEADER, isSafeRequestId } from '@shop/shared-contracts';

import type { Logger } from '../logger';

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
