import { bearerAuth, type BearerAuth } from '@shop/shared-runtime/http';

import type { AuthenticatedUser, TokenValidator } from '../services/token-validator';

/**
 * Bearer authentication of product writes: a token counts only when user-service vouches for it
 * (through `validator`: the validation cache in front of the RPC client). A refused token is a
 * 401; when the validator cannot answer (timeout, broker down) its 503 goes through, never a
 * 401, since the token may well be good.
 */
export function userServiceAuth(validator: TokenValidator): BearerAuth<AuthenticatedUser> {
  return bearerAuth((token, context) => validator.validate(token, context));
}
