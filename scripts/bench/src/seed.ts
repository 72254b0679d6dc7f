import { Client } from 'pg';

/**
 * Inserts `count` products owned by `ownerId` straight into product-service's (migrated)
 * table in one statement, then ANALYZE so the planner knows the table's size.
 *
 * @returns the range of ids inserted
 */
export async function seedProducts(
  databaseUrl: string,
  ownerId: number,
  count: number,
): Promise<{ min: number; max: number }> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ min: number; max: number }>(
      `WITH inserted AS (
         INSERT INTO products (name, description, price, quantity, owner_id)
         SELECT 'Seeded product ' || n, 'Product number ' || n || ' of the benchmark catalogue',
                (n % 10000) / 100.0 + 0.99, n % 500, $1
         FROM generate_series(1, $2::integer) AS n
         RETURNING id
       )
       SELECT min(id) AS min, max(id) AS max FROM inserted`,
      [ownerId, count],
    );
    await client.query('ANALYZE products');
    const range = rows[0];
    if (!range) throw new Error('seeding inserted nothing');
    return range;
  } finally {
    await client.end();
  }
}
