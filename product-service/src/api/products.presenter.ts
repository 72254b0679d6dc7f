import type { ProductRecord } from '../repositories/product.repository';
import type { NewProduct, ProductChanges } from '../services/product.service';
import type { ProductBody } from './products.schemas';

/** A product on the wire: snake_case, price a JSON number, timestamps ISO 8601 UTC. */
export interface PublicProduct {
  id: number;
  name: string;
  description: string | null;
  price: number;
  quantity: number;
  owner_id: number;
  created_at: string;
  updated_at: string;
}

/**
 * Turns a validated price (a JSON number with at most 2 decimals and at most 12 digits) into
 * the exact decimal text stored in NUMERIC(12,2). `toFixed(2)` is exact here: at that size a
 * double is within 1e-5 of the decimal the client wrote, far from a rounding boundary.
 */
export function priceToDecimal(price: number): string {
  return price.toFixed(2);
}

/**
 * NUMERIC(12,2) text back to a JSON number. The nearest double of a ≤ 12-digit decimal
 * serialises back to the same digits, so `"0.30"` is sent as `0.3`, never `0.30000000000000004`.
 */
export function priceToNumber(decimal: string): number {
  return Number(decimal);
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

export function toPublicProduct(product: ProductRecord): PublicProduct {
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
