import { Client } from 'pg';

/**
 * Rows of a service's transactional outbox not yet published (nor given up on). Once it is 0
 * after a change, every event of that change has been confirmed by the broker: what a test
 * waits for before it counts the deliveries.
 */
export async function unpublishedOutboxRows(databaseUrl: string): Promise<number> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>(
      'SELECT count(*) AS count FROM outbox_events WHERE published_at IS NULL AND failed_at IS NULL',
    );
    return Number(rows[0]?.count ?? 0);
  } finally {
    await client.end();
  }
}
