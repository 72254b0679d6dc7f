import { randomInt } from 'node:crypto';
import { QueryTypes } from 'sequelize';

import type { ProductRow, TestDatabase } from './product-service';

/** A product body as a client sends it. */
export interface ProductInput {
  name: string;
  description: string | null;
  price: number;
  quantity: number;
}

// Random per process, so users of neighbouring test files never collide; stays below 2^31.
const userIdBase = randomInt(1, 2_000_000) * 1000;
let users = 0;
let products = 0;

/** A user id no other test has used: every test makes its own owners. */
export function newUserId(): number {
  users += 1;
  return userIdBase + users;
}

export function productInput(overrides: Partial<ProductInput> = {}): ProductInput {
  products += 1;
  return {
    name: `Product ${products}`,
    description: `Test product number ${products}.`,
    price: 19.99,
    quantity: 3,
    ...overrides,
  };
}

/** Stores a product straight in the database, bypassing the API (for read tests). */
export async function insertProduct(
  db: TestDatabase,
  overrides: Partial<ProductInput & { ownerId: number }> = {},
): Promise<ProductRow> {
  const input = productInput(overrides);
  const [row] = await db.sequelize.query<ProductRow>(
    `INSERT INTO products (name, description, price, quantity, owner_id)
     VALUES (:name, :description, :price, :quantity, :ownerId) RETURNING *`,
    {
      type: QueryTypes.SELECT,
      replacements: { ...input, price: input.price.toFixed(2), ownerId: overrides.ownerId ?? newUserId() },
    },
  );
  if (!row) throw new Error('insert returned no row');
  return row;
}
