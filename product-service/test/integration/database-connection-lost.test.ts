import test from 'ava';
import { Client } from 'pg';

import type { ProblemDetails } from '@shop/shared-contracts';

import { call } from '@shop/test-harness';

import { insertProduct, newUserId } from '../helpers/factories';
import { useProductService } from '../helpers/use-product-service';

const ctx = useProductService();

/** The pids of this database's backends waiting on a row lock (the service's blocked write). */
async function lockWaiters(database: string): Promise<number[]> {
  const rows = await ctx.env.adminQuery<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
    [database],
  );
  return rows.map((row) => row.pid);
}

test('a write whose database connection is terminated mid-query → 503 with Retry-After, never a 500; the row unchanged', async (t) => {
  const ownerId = newUserId();
  const before = await insertProduct(ctx.db, { ownerId });
  const database = new URL(ctx.db.url).pathname.slice(1);
  // Another session holds the row, so the service's UPDATE waits, in flight, on its lock.
  const locker = new Client({ connectionString: ctx.db.url });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('SELECT id FROM products WHERE id = $1 FOR UPDATE', [before.id]);

  const write = call<ProblemDetails>(ctx.service.baseUrl, 'PATCH', `/products/${before.id}`, {
    token: ctx.responder.tokenFor({ reply: 'valid', userId: ownerId }),
    json: { quantity: 99 },
  });
  let waiters: number[] = [];
  for (let i = 0; i < 250 && waiters.length === 0; i += 1) {
    waiters = await lockWaiters(database);
    if (waiters.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.true(waiters.length > 0, 'the write is waiting on the lock');
  await ctx.env.adminQuery('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [waiters]);
  const response = await write;
  await locker.query('ROLLBACK');
  await locker.end();

  t.is(response.status, 503, JSON.stringify(response.body));
  t.is(response.body.type, 'urn:problem-type:service-unavailable');
  t.truthy(response.headers.get('retry-after'));
  t.deepEqual(await ctx.db.productRow(before.id), before);
  const again = await call(ctx.service.baseUrl, 'GET', `/products/${before.id}`);
  t.is(again.status, 200, 'the service recovers with a fresh connection');
});
