import { v4 as uuidv4 } from 'uuid';

import { EVENT_TYPES, EVENT_VERSION, type DomainEvent, type ProductEvent } from '@shop/shared-contracts';
import type { ChangeContext } from '@shop/shared-runtime';
import type { NewEvent } from '@shop/shared-runtime/db';

import type { ProductRecord } from '../repositories/product.repository';
import { toProductSnapshot } from './product-snapshot';

/**
 * `product.updated` or `product.deleted`: the product after the change (as it was, for a
 * deletion), who made it, and the version the change made — the product's own for an update,
 * one more than its last for a deletion — so a consumer can order a product's events.
 * `product.created` is built by the create statement itself, with version 1.
 */
export function productChangedEvent(
  type: typeof EVENT_TYPES.productUpdated | typeof EVENT_TYPES.productDeleted,
  product: ProductRecord,
  actorId: number,
  context: ChangeContext,
): NewEvent<ProductEvent> {
  const version = type === EVENT_TYPES.productDeleted ? product.version + 1 : product.version;
  return {
    ...eventEnvelope(context),
    type,
    data: { product: toProductSnapshot(product), actor_id: actorId, version },
  };
}

/** What every new event starts with; `occurred_at` is stamped by the outbox when it is recorded. */
export function eventEnvelope(context: ChangeContext): Pick<DomainEvent, 'id' | 'version' | 'request_id'> {
  return { id: uuidv4(), version: EVENT_VERSION, request_id: context.requestId };
}
