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
export type BearerAuthenticator<U extends BearerIdentity> = (
  token: string,
  context: { requestId: string },
) => Promise<U>;

/** A route guard and the reader of what it found, typed by what the authenticator returns. */
export interface BearerAuth<U extends BearerIdentity> {
  /**
   * Lets a request through only with a bearer token the authenticator vouches for, puts its
   * holder in `res.locals` and its user id on the trace context (so the access line names the
   * user). No usable token is a 401 with a plain `Bearer` challenge; whatever the authenticator
   * throws goes to the error handler as it is — a 503 stays a 503, never a 401, since the token
   * may well be good.
   */
  readonly requireAuth: RequestHandler;
  /** The holder {@link requireAuth} let through; a route without requireAuth asking for it is a bug. */
  identityOf(res: Response): U;
}

/** Bearer-token authentication over `authenticate`: the guard and its reader share one `res.locals` slot. */
export function bearerAuth<U extends BearerIdentity>(authenticate: BearerAuthenticator<U>): BearerAuth<U> {
  const slot = Symbol('bearer identity');
  type Locals = Record<symbol, U | undefined>;
  return {
    requireAuth: async (req, res, next) => {
      const token = bearerTokenOf(req.headers.authorization);
      if (token === undefined) {
        throw new UnauthorizedError('Send a bearer token in the Authorization header.');
      }
      const identity = await authenticate(token, { requestId: requestIdOf(req) });
      (res.locals as Locals)[slot] = identity;
      const trace = currentTraceContext();
      if (trace) trace.userId = identity.userId;
      next();
    },
    identityOf(res) {
      const identity = (res.locals as Locals)[slot];
      if (!identity) throw new Error('identityOf() called on a route without requireAuth');
      return identity;
    },
  };
}
