import type { RequestHandler, Response } from 'express';

import { MAX_TOKEN_LENGTH } from '@shop/shared-contracts';

import { UnauthorizedError } from '../errors';
import { currentTraceContext } from '../trace-context';
import { requestIdOf } from './request-context';

/**
 * `Bearer <b64token>` (RFC 6750 §2.1): the scheme case-insensitive, one or more spaces, then
 * the b64token alphabet with trailing `=` only. Anything else (another scheme, a comma list,
 * characters outside the alphabet) is no usable credential.
 */
const BEARER_CREDENTIALS = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The bearer token of an `Authorization` header, or undefined when absent, malformed or too long. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const token = BEARER_CREDENTIALS.exec(header)?.[1];
  return token !== undefined && token.length <= MAX_TOKEN_LENGTH ? token : undefined;
}

/** Who a bearer token belongs to, as far as the HTTP layer and the logs need to know. */
export interface BearerIdentity {
  userId: number;
}

/**
 * Vouches for a token: resolves with its holder, or throws (UnauthorizedError for a refused
 * token, ServiceUnavailableError when it cannot tell).
 */
export type BearerAuthenticator<U extends BearerIdentity> = (token: string, context: { requestId: string }) => Promise<U>;

interface BearerLocals {
  bearerIdentity?: BearerIdentity;
}

/**
 * Lets a request through only with a bearer token `authenticate` vouches for, puts its holder
 * in `res.locals` (read it with {@link bearerIdentityOf}) and its user id on the trace context
 * (so the access line names the user). No usable token is a 401 with a plain `Bearer`
 * challenge; whatever `authenticate` throws goes to the error handler as it is — a 503 stays a
 * 503, never a 401, since the token may well be good.
 */
export function requireBearer<U extends BearerIdentity>(authenticate: BearerAuthenticator<U>): RequestHandler {
  return async (req, res, next) => {
    const token = bearerTokenOf(req.headers.authorization);
    if (token === undefined) {
      throw new UnauthorizedError('Send a bearer token in the Authorization header.');
    }
    const identity = await authenticate(token, { requestId: requestIdOf(req) });
    (res.locals as BearerLocals).bearerIdentity = identity;
    const trace = currentTraceContext();
    if (trace) trace.userId = identity.userId;
    next();
  };
}

/**
 * The holder {@link requireBearer} let through, as its authenticator returned it; a route
 * without requireBearer asking for it is a bug.
 */
export function bearerIdentityOf<U extends BearerIdentity>(res: Response): U {
  const identity = (res.locals as BearerLocals).bearerIdentity;
  if (!identity) throw new Error('bearerIdentityOf() called on a route without requireBearer');
  return identity as U;
}
