import type { RequestHandler, Response } from 'express';

import { MAX_TOKEN_LENGTH } from '@shop/shared-contracts';

import { UnauthorizedError } from '../errors';
import type { AuthService, Caller } from '../services/auth.service';
import { currentTraceContext } from '../trace-context';

interface CallerLocals {
  caller?: Caller;
}

/** `Authorization: Bearer <token>` → the token; anything else → undefined. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  const match = /^Bearer ([^\s]+)$/i.exec(header ?? '');
  const token = match?.[1];
  return token !== undefined && token.length <= MAX_TOKEN_LENGTH ? token : undefined;
}

/**
 * Lets through requests with a valid bearer token (checked like any other validation:
 * signature, expiry, revocation, user active) and puts the caller in `res.locals`.
 */
export function requireAuth(authService: AuthService): RequestHandler {
  return async (req, res, next) => {
    const token = bearerTokenOf(req.headers.authorization);
    if (token === undefined) throw new UnauthorizedError('Send a bearer token in the Authorization header.');
    const caller = await authService.authenticate(token);
    (res.locals as CallerLocals).caller = caller;
    const trace = currentTraceContext();
    if (trace) trace.userId = caller.userId;
    next();
  };
}

/** The caller {@link requireAuth} let through; a route without requireAuth asking for it is a bug. */
export function callerOf(res: Response): Caller {
  const caller = (res.locals as CallerLocals).caller;
  if (!caller) throw new Error('callerOf() called on a route without requireAuth');
  return caller;
}
