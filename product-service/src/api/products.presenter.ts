import type { ProductSnapshot } from '@shop/shared-contracts';
import type { EntityTagCondition } from '@shop/shared-runtime/http';

import type { StoredResponse } from '../repositories/idempotency-key.repository';
import type { ProductRecord } from '../repositories/product.repository';
import type { ExpectedVersions, NewProduct, ProductChanges } from '../services/product.service';
import { productEtag, toProductSnapshot } from '../services/product-snapshot';
import { MAX_INT4, type ProductBody } from './products.schemas';

export { priceToNumber, productEtag } from '../services/product-snapshot';

/** A product on the wire: snake_case, price a JSON number, timestamps ISO 8601 UTC. */
export type PublicProduct = ProductSnapshot;

/**
 * Turns a validated price (a JSON number with at most 2 decimals and at most 12 digits) into
 * the exact decimal text stored in NUMERIC(12,2). `toFixed(2)` is exact here: at that size a
 * double is within 1e-5 of the decimal the client wrote, far from a rounding boundary.
 */
export function priceToDecimal(price: number): string {
  return price.toFixed(2);
}

export function toNewProduct(body: ProductBody): NewProduct {
  return { name: body.name, description: body.description, price: priceToDecimal(body.price), quantity: body.quantity };
}

export function toProductChanges(body: Partial<ProductBody>): ProductChanges {
  const changes: ProductChanges = {};
  if (body.name !== undefined) changes.name = body.name;
  if (body.description !== undefined) changes.description = body.description;
  if (body.price !== undefined) changes.price = priceToDecimal(body.price);
  if (body.quantity !== undefined) changes.quantity = body.quantity;
  return changes;
}

/** The same snapshot the product's events carry, so an HTTP body and an event body never differ. */
export function toPublicProduct(product: ProductRecord): PublicProduct {
  return toProductSnapshot(product);
}

/** The answer to a create, as sent and as stored for the replays of its `Idempotency-Key`. */
export function createdResponse(product: ProductRecord): StoredResponse {
  return {
    status: 201,
    headers: { Location: `/products/${product.id}`, ETag: productEtag(product.version) },
    body: toPublicProduct(product),
  };
}

/** A version as its entity tag's opaque text writes it: plain decimal digits, no leading zero. */
const VERSION_TEXT = /^[1-9]\d{0,9}$/;

/**
 * The versions an `If-Match` allows: none given (absent, or `*`, which any existing product
 * matches) → undefined, i.e. any; else those of its strong tags that are versions. Weak tags
 * never match (If-Match compares strongly), nor tags no product ever had (`"abc"`, `"03"`): a
 * list of only those gives [], which no version matches, so the change is a 412.
 */
export function expectedVersionsOf(condition: EntityTagCondition | undefined): ExpectedVersions {
  if (!condition || condition.any) return undefined;
  return condition.tags
    .filter((tag) => !tag.weak && VERSION_TEXT.test(tag.opaque) && Number(tag.opaque) <= MAX_INT4)
    .map((tag) => Number(tag.opaque));
}
