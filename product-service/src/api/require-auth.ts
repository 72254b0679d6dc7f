import type { RequestHandler, Response } from 'express';

import { MAX_TOKEN_LENGTH } from '@shop/shared-contracts';

import { UnauthorizedError } from '../errors';
import type { AuthenticatedUser, TokenValidator } from '../services/token-validator';
import { currentTraceContext } from '../trace-context';
import { requestIdOf } from './request-context';

/** `Bearer <b64token>` (RFC 6750 §2.1); the scheme is case-insensitive. */
const BEARER_CREDENTIALS = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

interface AuthLocals {
  authenticatedUser?: AuthenticatedUser;
}

/** The bearer token of an `Authorization` header, or undefined when absent or malformed. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const token = BEARER_CREDENTIALS.exec(header)?.[1];
  return token !== undefined && token.length <= MAX_TOKEN_LENGTH ? token : undefined;
}

/**
 * Lets a request through only with a bearer token user-service vouches for, and puts its user
 * in `res.locals` (read it with {@link authenticatedUser}). No usable token or a refused one is
 * a 401; when the validator cannot answer (timeout, broker down) its 503 goes through, never a
 * 401, since the token may well be good.
 */
export function requireAuth(validator: TokenValidator): RequestHandler {
  return async (req, res, next) => {
    const token = bearerTokenOf(req.headers.authorization);
    if (token === undefined) {
      throw new UnauthorizedError('Send a bearer token in the Authorization header.');
    }
    const user = await validator.validate(token, { requestId: requestIdOf(req) });
    (res.locals as AuthLocals).authenticatedUser = user;
    const trace = currentTraceContext();
    if (trace) trace.userId = user.userId;
    next();
  };
}

/** The user {@link requireAuth} let through; a route without requireAuth asking for it is a bug. */
export function authenticatedUser(res: Response): AuthenticatedUser {
  const user = (res.locals as AuthLocals).authenticatedUser;
  if (!user) throw new Error('authenticatedUser() called on a route without requireAuth');
  return user;
}
