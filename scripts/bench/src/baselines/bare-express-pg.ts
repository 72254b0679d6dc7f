/**
 * The hand-written ideal of product-service's hot paths: Express 5 and a pg pool of the same
 * size, the same SQL on the same database, writes authorised by a bare RPC call to the real
 * user-service responder over the same queue, and each write's event delivered as
 * product-service delivers it (recorded with the product in one statement, then published by a
 * hand-written outbox relay). It leaves out what a real service must have (validation with
 * every failing field, problem+json, request ids, helmet, logging, metrics), so the gap to it
 * is what those cost. Run as its own process; prints the ready line.
 */
import { randomUUID } from 'node:crypto';

import express, { type Request, type Response } from 'express';
import { Pool } from 'pg';

import { announceReady, workerInput } from '../processes';
import { BareOutboxRelay } from './bare-outbox-relay';
import { BareRpcClient } from './bare-rpc-client';

export interface BareExpressPgInput {
  databaseUrl: string;
  amqpUrl: string;
  queue: string;
  rpcTimeoutMs: number;
  /** Where the ideal's events go: an exchange of its own, beside product-service's. */
  eventsExchange: string;
  /** Same as the services' DB_POOL_MAX default. */
  poolMax: number;
}

interface ProductRow {
  id: number;
  name: string;
  description: string | null;
  price: string;
  quantity: number;
  owner_id: number;
  version: number;
  created_at: Date;
  updated_at: Date;
}

// The columns product-service reads, version included (it becomes the ETag), so both do the same work.
const COLUMNS = 'id, name, description, price, quantity, owner_id, version, created_at, updated_at';

/** The ideal's own outbox: the shape of product-service's, read by its own relay. */
const BARE_OUTBOX_TABLE = 'bench_bare_outbox_events';

function toJson({ version: _version, ...row }: ProductRow): Record<string, unknown> {
  return {
    ...row,
    price: Number(row.price),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

async function main(): Promise<void> {
  const input = workerInput() as BareExpressPgInput;
  const pool = new Pool({ connectionString: input.databaseUrl, max: input.poolMax });
  await pool.query(`CREATE TABLE IF NOT EXISTS ${BARE_OUTBOX_TABLE} (LIKE outbox_events INCLUDING ALL)`);
  const rpc = await BareRpcClient.connect({
    amqpUrl: input.amqpUrl,
    queue: input.queue,
    timeoutMs: input.rpcTimeoutMs,
  });
  const relay = await BareOutboxRelay.start({
    pool,
    table: BARE_OUTBOX_TABLE,
    amqpUrl: input.amqpUrl,
    exchange: input.eventsExchange,
  });

  const app = express();
  app.use(express.json());

  app.get('/products', async (req: Request, res: Response) => {
    const skip = Number(req.query.skip ?? 0);
    const limit = Number(req.query.limit ?? 100);
    if (!Number.isInteger(skip) || skip < 0 || !Number.isInteger(limit) || limit < 1 || limit > 100) {
      res.status(422).end();
      return;
    }
    // The two statements Sequelize's findAndCountAll sends, side by side as it does.
    const [count, page] = await Promise.all([
      pool.query<{ count: string }>('SELECT count(id) AS count FROM products'),
      pool.query<ProductRow>(`SELECT ${COLUMNS} FROM products ORDER BY id ASC LIMIT $1 OFFSET $2`, [limit, skip]),
    ]);
    res.set('X-Total-Count', count.rows[0]?.count ?? '0').json(page.rows.map(toJson));
  });

  app.get('/products/:id', async (req: Request<{ id: string }>, res: Response) => {
    const id = Number(req.params.id);
    if (!Number.isInteger(id) || id < 1) {
      res.status(422).end();
      return;
    }
    const { rows } = await pool.query<ProductRow>(`SELECT ${COLUMNS} FROM products WHERE id = $1`, [id]);
    const row = rows[0];
    if (row) res.set('ETag', `"${row.version}"`).json(toJson(row));
    else res.status(404).end();
  });

  app.post('/products', async (req: Request, res: Response) => {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) {
      res.status(401).end();
      return;
    }
    const reply = (await rpc.call(token).catch(() => undefined)) as { valid?: boolean; user_id?: number } | undefined;
    if (!reply) {
      res.status(503).end();
      return;
    }
    if (reply.valid !== true || typeof reply.user_id !== 'number') {
      res.status(401).end();
      return;
    }
    const body = req.body as { name?: unknown; description?: unknown; price?: unknown; quantity?: unknown };
    if (typeof body.name !== 'string' || typeof body.price !== 'number' || typeof body.quantity !== 'number') {
      res.status(422).end();
      return;
    }
    // The same durable work as product-service: the product and its event (the same envelope)
    // in one statement, the event then published by the relay.
    const { rows } = await pool.query<ProductRow>(
      `WITH product AS (
         INSERT INTO products (name, description, price, quantity, owner_id) VALUES ($1, $2, $3, $4, $5)
         RETURNING ${COLUMNS}
       ), event AS (
         INSERT INTO ${BARE_OUTBOX_TABLE} (id, type, payload, occurred_at)
         SELECT $6::uuid, 'product.created',
                jsonb_build_object('id', $6::uuid, 'type', 'product.created', 'version', 1, 'occurred_at', now(),
                                   'request_id', NULL, 'data', jsonb_build_object('product', to_jsonb(product) - 'version', 'actor_id', $5::integer,
                                                              'version', product.version)),
                now()
           FROM product
       )
       SELECT * FROM product`,
      [
        body.name,
        typeof body.description === 'string' ? body.description : null,
        body.price,
        body.quantity,
        reply.user_id,
        randomUUID(),
      ],
    );
    const row = rows[0];
    if (!row) throw new Error('INSERT returned no row');
    relay.notify();
    res.status(201).location(`/products/${row.id}`).set('ETag', `"${row.version}"`).json(toJson(row));
  });

  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address();
    announceReady(typeof address === 'object' && address ? address.port : 0);
  });
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void Promise.allSettled([rpc.close(), relay.close()])
      .then(() => pool.end())
      .finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bare-express-pg: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
