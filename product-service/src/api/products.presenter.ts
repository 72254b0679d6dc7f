import type { ProductSnapshot } from '@shop/shared-contracts';

import type { ProductRecord } from '../repositories/product.repository';
import type { NewProduct, ProductChanges } from '../services/product.service';
import { toProductSnapshot } from '../services/product-snapshot';
import type { ProductBody } from './products.schemas';

export { priceToNumber } from '../services/product-snapshot';

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
