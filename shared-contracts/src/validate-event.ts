import type Joi from 'joi';

import { validateMessage, type DecodeResult } from './decode-message';
import {
  EVENT_SCHEMAS,
  EVENT_TYPES,
  EVENT_VERSION,
  type DomainEvent,
  type EventType,
  type ProductEvent,
} from './events';
import { MAX_REQUEST_ID_LENGTH } from './problem-details';
import { hasExactlyKeys, isCanonicalInstant, isPlainObject } from './validate-token-codec';

/**
 * Checks an event against the schema of `type` as `validateMessage(EVENT_SCHEMAS[type], value)`
 * does, but takes the product events in the form product-service writes them (lower-case uuid,
 * instants as `toISOString()` writes them, plain JSON numbers) with plain type checks first:
 * the outbox relay checks every event before it publishes it, and Joi's walk of the nested
 * product was a large share of the relay's CPU per event (docs/benchmarks.md). Anything else
 * goes to the schema, so the answers and the error messages are the schema's; a property test
 * holds the two equal.
 */
export function validateEvent(type: EventType, value: unknown): DecodeResult<DomainEvent> {
  if (isPlainProductEvent(value, type)) return { ok: true, value };
  return validateMessage(EVENT_SCHEMAS[type] as Joi.Schema<DomainEvent>, value);
}

const PRODUCT_EVENT_TYPES: ReadonlySet<string> = new Set([
  EVENT_TYPES.productCreated,
  EVENT_TYPES.productUpdated,
  EVENT_TYPES.productDeleted,
]);

/** `crypto.randomUUID()`'s form: a version 4, variant 1 uuid in lower case. */
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The fast path of {@link validateEvent}: true only for a product event of `type` the schema takes. */
export function isPlainProductEvent(value: unknown, type: string): value is ProductEvent {
  if (!PRODUCT_EVENT_TYPES.has(type) || !isPlainObject(value) || !hasExactlyKeys(value, 6)) return false;
  const event = value as Record<string, unknown>;
  const { id, request_id: requestId, data } = event;
  return (
    event.type === type &&
    event.version === EVENT_VERSION &&
    typeof id === 'string' &&
    UUID_V4.test(id) &&
    isCanonicalInstant(event.occurred_at) &&
    (requestId === null ||
      (typeof requestId === 'string' && requestId.length > 0 && requestId.length <= MAX_REQUEST_ID_LENGTH)) &&
    isPlainObject(data) &&
    hasDataKeys(data) &&
    isPositiveId((data as Record<string, unknown>).actor_id) &&
    isPlainSnapshot((data as Record<string, unknown>).product)
  );
}

/** `product` and `actor_id` (checked by the caller), and `version` when present: a positive integer. */
function hasDataKeys(data: object): boolean {
  if (!Object.hasOwn(data, 'version')) return hasExactlyKeys(data, 2);
  return hasExactlyKeys(data, 3) && isPositiveId((data as Record<string, unknown>).version);
}

function isPlainSnapshot(value: unknown): boolean {
  if (!isPlainObject(value) || !hasExactlyKeys(value, 8)) return false;
  const product = value as Record<string, unknown>;
  const { name, description, price, quantity } = product;
  return (
    isPositiveId(product.id) &&
    typeof name === 'string' &&
    name.length > 0 &&
    (description === null || typeof description === 'string') &&
    typeof price === 'number' &&
    price >= 0 &&
    price <= Number.MAX_SAFE_INTEGER &&
    typeof quantity === 'number' &&
    Number.isSafeInteger(quantity) &&
    quantity >= 0 &&
    isPositiveId(product.owner_id) &&
    isCanonicalInstant(product.created_at) &&
    isCanonicalInstant(product.updated_at)
  );
}

function isPositiveId(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
