import type { RequestHandler, Response } from 'express';

import { bearerIdentityOf, requireBearer } from '@shop/shared-runtime/http';

import type { AuthenticatedUser, TokenValidator } from '../services/token-validator';

/**
 * Lets a request through only with a bearer token user-service vouches for (through
 * `validator`: the validation cache in front of the RPC client) and puts its user in
 * `res.locals`. No usable token or a refused one is a 401; when the validator cannot answer
 * (timeout, broker down) its 503 goes through, never a 401, since the token may well be good.
 */
export function requireAuth(validator: TokenValidator): RequestHandler {
  return requireBearer((token, context) => validator.validate(token, context));
}

/** The user {@link requireAuth} let through; a route without requireAuth asking for it is a bug. */
export function authenticatedUser(res: Response): AuthenticatedUser {
  return bearerIdentityOf<AuthenticatedUser>(res);
}
