import { bearerAuth, type BearerAuth } from '@shop/shared-runtime/http';

import type { AuthService, Caller } from '../services/auth.service';

/**
 * Bearer authentication of a logged-in user's routes: the token is checked like any other
 * validation (signature, expiry, revocation, user active), and its caller read with `identityOf`.
 */
export function callerAuth(authService: AuthService): BearerAuth<Caller> {
  return bearerAuth((token) => authService.authenticate(token));
}
