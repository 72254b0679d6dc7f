import { v4 as uuidv4 } from 'uuid';

import { EVENT_VERSION, type DomainEvent, type ProductEvent } from '@shop/shared-contracts';
import type { ChangeContext } from '@shop/shared-runtime';
import type { NewEvent } from '@shop/shared-runtime/db';

import type { ProductRecord } from '../repositories/product.repository';
import { toProductSnapshot } from './product-snapshot';

/**
 * `product.updated` or `product.deleted`: the product after the change (as it was, for a
 * deletion) and who made it. `product.created` is built by the create statement itself.
 */
export function productChangedEvent(
  type: ProductEvent['type'],
  product: ProductRecord,
  actorId: number,
  context: ChangeContext,
): NewEvent<ProductEvent> {
  return { ...eventEnvelope(context), type, data: { product: toProductSnapshot(product), actor_id: actorId } };
}

/** What every new event starts with; `occurred_at` is stamped by the outbox when it is recorded. */
export function eventEnvelope(context: ChangeContext): Pick<DomainEvent, 'id' | 'version' | 'request_id'> {
  return { id: uuidv4(), version: EVENT_VERSION, request_id: context.requestId };
}
