import type { ProductSnapshot } from '@shop/shared-contracts';

import type { ProductRecord } from '../repositories/product.repository';

/**
 * NUMERIC(12,2) text back to a JSON number. The nearest double of a ≤ 12-digit decimal
 * serialises back to the same digits, so `"0.30"` is sent as `0.3`, never `0.30000000000000004`.
 */
export function priceToNumber(decimal: string): number {
  return Number(decimal);
}

/**
 * A product as the world outside sees it, in HTTP bodies and in events' `data.product` alike:
 * snake_case, price a JSON number, timestamps ISO 8601 UTC. This is the one mapping from a record
 * to that shape; the only other is the SQL of the create statement, which builds the
 * `product.created` event in the database (ProductRepository.createWithCreatedEvent), and a test
 * holds the two equal.
 */
export function toProductSnapshot(product: ProductRecord): ProductSnapshot {
  return {
    id: product.id,
    name: product.name,
    description: product.description,
    price: priceToNumber(product.price),
    quantity: product.quantity,
    owner_id: product.ownerId,
    created_at: product.createdAt.toISOString(),
    updated_at: product.updatedAt.toISOString(),
  };
}

/**
 * A product's strong entity tag: its version, quoted (`"3"`). The version alone identifies a
 * representation, since a product's id is in its URL and every change increases the version.
 */
export function productEtag(version: number): string {
  return `"${version}"`;
}
