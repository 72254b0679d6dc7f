import { v4 as uuidv4 } from 'uuid';

import {
  EVENT_TYPES,
  EVENT_VERSION,
  type DomainEvent,
  type TokenRevokedEvent,
  type UserDeactivatedEvent,
} from '@shop/shared-contracts';
import type { ChangeContext } from '@shop/shared-runtime';
import type { NewEvent } from '@shop/shared-runtime/db';

/** A token this service issued, as revocation knows it. */
export interface RevokedToken {
  jti: string;
  userId: number;
  expiresAt: Date;
}

/** `auth.token_revoked`: refuse this token until it expires. */
export function tokenRevokedEvent(token: RevokedToken, context: ChangeContext): NewEvent<TokenRevokedEvent> {
  return {
    ...eventEnvelope(context),
    type: EVENT_TYPES.tokenRevoked,
    // NumericDate, as in the token's own `exp` claim (whole seconds, so this is exact).
    data: { jti: token.jti, user_id: token.userId, exp: Math.floor(token.expiresAt.getTime() / 1000) },
  };
}

/** `user.deactivated`: refuse every token of this user from now on. */
export function userDeactivatedEvent(userId: number, context: ChangeContext): NewEvent<UserDeactivatedEvent> {
  return { ...eventEnvelope(context), type: EVENT_TYPES.userDeactivated, data: { user_id: userId } };
}

/** What every new event starts with; `occurred_at` is stamped by the outbox when it is recorded. */
function eventEnvelope(context: ChangeContext): Pick<DomainEvent, 'id' | 'version' | 'request_id'> {
  return { id: uuidv4(), version: EVENT_VERSION, request_id: context.requestId };
}
