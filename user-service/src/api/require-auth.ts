import type { RequestHandler, Response } from 'express';

import { bearerIdentityOf, requireBearer } from '@shop/shared-runtime/http';

import type { AuthService, Caller } from '../services/auth.service';

/**
 * Lets through requests with a valid bearer token (checked like any other validation:
 * signature, expiry, revocation, user active) and puts the caller in `res.locals`.
 */
export function requireAuth(authService: AuthService): RequestHandler {
  return requireBearer((token) => authService.authenticate(token));
}

/** The caller {@link requireAuth} let through; a route without requireAuth asking for it is a bug. */
export function callerOf(res: Response): Caller {
  return bearerIdentityOf<Caller>(res);
}
