import { randomUUID } from 'node:crypto';

import { EVENT_TYPES, EVENT_VERSION, type ProductUpdatedEvent, type TokenRevokedEvent } from '@shop/shared-contracts';

import type { NewEvent } from '../../src/db';

// Events of both exchanges, built here from the contract: the runtime relays and consumes whatever
// a service records, so its tests use events of each service without importing one.

let sequence = 0;

/** A positive id no other event of this process uses, for users and products alike. */
function nextId(): number {
  sequence += 1;
  return sequence;
}

/** An `auth.token_revoked` event as user-service records it (without `occurred_at`). */
export function newTokenRevokedEvent(
  options: { userId?: number; jti?: string; requestId?: string | null } = {},
): NewEvent<TokenRevokedEvent> {
  return {
    id: randomUUID(),
    type: EVENT_TYPES.tokenRevoked,
    version: EVENT_VERSION,
    request_id: options.requestId === undefined ? null : options.requestId,
    data: {
      jti: options.jti ?? randomUUID(),
      user_id: options.userId ?? nextId(),
      exp: Math.floor(Date.now() / 1000) + 1800,
    },
  };
}

/** A `product.updated` event as product-service records it (without `occurred_at`). */
export function newProductUpdatedEvent(
  options: { productId?: number; requestId?: string | null } = {},
): NewEvent<ProductUpdatedEvent> {
  const productId = options.productId ?? nextId();
  const at = new Date().toISOString();
  return {
    id: randomUUID(),
    type: EVENT_TYPES.productUpdated,
    version: EVENT_VERSION,
    request_id: options.requestId === undefined ? null : options.requestId,
    data: {
      product: {
        id: productId,
        name: `Lamp ${productId}`,
        description: null,
        price: 19.9,
        quantity: 3,
        owner_id: 7,
        created_at: at,
        updated_at: at,
      },
      actor_id: 7,
    },
  };
}

let made = 0;

/**
 * A new event of either service, alternating between them, so that every behaviour of the
 * outbox and its relay is seen with the events of both.
 */
export function newEvent(requestId: string | null = null): NewEvent<TokenRevokedEvent | ProductUpdatedEvent> {
  made += 1;
  return made % 2 === 0 ? newTokenRevokedEvent({ requestId }) : newProductUpdatedEvent({ requestId });
}
