import test from 'ava';
import fc from 'fast-check';
import { QueryTypes } from 'sequelize';

import { EVENT_TYPES, type ProblemDetails, type ProductEvent } from '@shop/shared-contracts';
import { call, expectProblem, type ApiResponse } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { newUserId, productInput } from '../helpers/factories';
import { useProductService } from '../helpers/use-product-service';

const ctx = useProductService();

const tokenOf = (userId: number) => ctx.responder.tokenFor({ reply: 'valid', userId });

/** A product created through the API by a new owner, with that owner's token. */
async function createdProduct(): Promise<{ id: number; token: string; ownerId: number; etag: string }> {
  const ownerId = newUserId();
  const token = tokenOf(ownerId);
  const response = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
    token,
    json: productInput({ quantity: 0 }),
  });
  if (response.status !== 201) throw new Error(`create failed: ${response.text}`);
  return { id: response.body.id, token, ownerId, etag: response.headers.get('etag') ?? '' };
}

function patch(
  id: number,
  token: string,
  json: unknown,
  ifMatch?: string,
  method: 'PATCH' | 'PUT' = 'PATCH',
): Promise<ApiResponse<PublicProduct>> {
  return call<PublicProduct>(ctx.service.baseUrl, method, `/products/${id}`, {
    token,
    json,
    ...(ifMatch === undefined ? {} : { headers: { 'if-match': ifMatch } }),
  });
}

/** The `data.version` and quantity of each product.updated / product.deleted event of product `id`, in version order. */
async function changeEventsOf(id: number): Promise<{ type: string; version: number; quantity: number }[]> {
  const rows = await ctx.db.sequelize.query<{ payload: ProductEvent }>(
    `SELECT payload FROM outbox_events
      WHERE type IN (:types) AND (payload -> 'data' -> 'product' ->> 'id')::int = :id`,
    { replacements: { id, types: [EVENT_TYPES.productUpdated, EVENT_TYPES.productDeleted] }, type: QueryTypes.SELECT },
  );
  return rows
    .map(({ payload }) => ({
      type: payload.type,
      version: payload.data.version ?? 0,
      quantity: payload.data.product.quantity,
    }))
    .sort((a, b) => a.version - b.version);
}

async function versionOf(id: number): Promise<number | undefined> {
  const [row] = await ctx.db.sequelize.query<{ version: number }>('SELECT version FROM products WHERE id = :id', {
    replacements: { id },
    type: QueryTypes.SELECT,
  });
  return row?.version;
}

test('ETag → "1" on the 201 and the GET of a new product; each PUT and PATCH answers the next version', async (t) => {
  const { id, token, etag } = await createdProduct();

  const read = await call(ctx.service.baseUrl, 'GET', `/products/${id}`);
  const put = await patch(id, token, { quantity: 1 }, undefined, 'PUT');
  const patched = await patch(id, token, { quantity: 2 });
  const readAgain = await call(ctx.service.baseUrl, 'GET', `/products/${id}`);

  t.is(etag, '"1"');
  t.is(read.headers.get('etag'), '"1"');
  t.is(put.headers.get('etag'), '"2"');
  t.is(patched.headers.get('etag'), '"3"');
  t.is(readAgain.headers.get('etag'), '"3"');
  t.is(await versionOf(id), 3);
});

test('product events carry the version: created 1, each update the version it made, the deletion one more', async (t) => {
  const { id, token } = await createdProduct();
  await patch(id, token, { quantity: 4 });
  await call(ctx.service.baseUrl, 'DELETE', `/products/${id}`, { token });

  const [created] = await ctx.db.sequelize.query<{ payload: ProductEvent }>(
    `SELECT payload FROM outbox_events WHERE type = :type AND (payload -> 'data' -> 'product' ->> 'id')::int = :id`,
    { replacements: { id, type: EVENT_TYPES.productCreated }, type: QueryTypes.SELECT },
  );

  t.is(created?.payload.data.version, 1);
  t.deepEqual(await changeEventsOf(id), [
    { type: EVENT_TYPES.productUpdated, version: 2, quantity: 4 },
    { type: EVENT_TYPES.productDeleted, version: 3, quantity: 4 },
  ]);
});

test('GET /products/{id} with If-None-Match → 304 with the ETag and no body when it names the current version (weak or strong, or *); else 200', async (t) => {
  const { id, token } = await createdProduct();
  await patch(id, token, { quantity: 7 });

  for (const header of ['"2"', 'W/"2"', '"1", "2"', '*']) {
    const response = await call(ctx.service.baseUrl, 'GET', `/products/${id}`, {
      headers: { 'if-none-match': header },
    });
    t.is(response.status, 304, header);
    t.is(response.text, '', header);
    t.is(response.headers.get('etag'), '"2"', header);
  }
  for (const header of ['"1"', 'W/"1"', '"abc"']) {
    const response = await call<PublicProduct>(ctx.service.baseUrl, 'GET', `/products/${id}`, {
      headers: { 'if-none-match': header },
    });
    t.is(response.status, 200, header);
    t.is(response.body.quantity, 7, header);
  }
  const malformed = await call(ctx.service.baseUrl, 'GET', `/products/${id}`, { headers: { 'if-none-match': '2' } });
  t.regex(expectProblem(t, malformed, 400).detail, /If-None-Match/);
});

test('lost update: two clients read version 1 and both PUT with If-Match "1" → one 200, one 412 with the current ETag; the row is the winner’s', async (t) => {
  const { id, token, etag } = await createdProduct();

  const [first, second] = await Promise.all([
    patch(id, token, { name: 'From client A', quantity: 1 }, etag, 'PUT'),
    patch(id, token, { name: 'From client B', quantity: 2 }, etag, 'PUT'),
  ]);

  const statuses = [first.status, second.status].sort();
  t.deepEqual(statuses, [200, 412]);
  const winner = first.status === 200 ? first : second;
  const loser = first.status === 200 ? second : first;
  const problem = expectProblem(t, loser, 412);
  t.like(problem, { type: 'urn:problem-type:precondition-failed', etag: '"2"' });
  const row = await ctx.db.productRow(id);
  t.is(row?.name, winner.body.name);
  t.is(row?.quantity, winner.body.quantity);
  t.is((await changeEventsOf(id)).length, 1, 'only the winner’s change is an event');
});

test('If-Match → * and any list naming the current version apply the change; weak tags and other versions get 412 and change nothing', async (t) => {
  const { id, token } = await createdProduct();

  const star = await patch(id, token, { quantity: 1 }, '*');
  const list = await patch(id, token, { quantity: 2 }, '"9", "2", W/"5"');
  t.is(star.status, 200);
  t.is(list.status, 200);
  t.is(list.headers.get('etag'), '"3"');

  for (const stale of ['"2"', 'W/"3"', '"03"', '"abc"', '""', '"99999999999"', ',"1",']) {
    const response = await patch(id, token, { quantity: 50 }, stale);
    t.is(expectProblem(t, response, 412).etag, '"3"', stale);
  }
  t.is((await ctx.db.productRow(id))?.quantity, 2);
  t.is(await versionOf(id), 3);
});

test('If-Match → malformed values are a 400 naming the header, before anything changes', async (t) => {
  const { id, token } = await createdProduct();

  for (const header of ['1', 'W/1', '"1', '*, "1"', 'w/"1"', '"1" "1"', 'etag']) {
    const response = await patch(id, token, { quantity: 9 }, header);
    t.regex(expectProblem(t, response, 400).detail, /If-Match/, header);
    const deletion = await call(ctx.service.baseUrl, 'DELETE', `/products/${id}`, {
      token,
      headers: { 'if-match': header },
    });
    expectProblem(t, deletion, 400);
  }
  t.is(await versionOf(id), 1);
});

test('If-Match → 404 for a product that does not exist and 403 for another owner’s, before the precondition is judged', async (t) => {
  const { id } = await createdProduct();
  const stranger = tokenOf(newUserId());

  const missing = await patch(2_000_000_000, stranger, { quantity: 1 }, '"1"');
  const notOwner = await patch(id, stranger, { quantity: 1 }, '"7"');
  const notOwnerDelete = await call(ctx.service.baseUrl, 'DELETE', `/products/${id}`, {
    token: stranger,
    headers: { 'if-match': '"7"' },
  });

  expectProblem(t, missing, 404);
  expectProblem(t, notOwner, 403);
  expectProblem(t, notOwnerDelete, 403);
});

test('DELETE with If-Match → 412 when stale (the product stays), 204 when current', async (t) => {
  const { id, token } = await createdProduct();
  await patch(id, token, { quantity: 3 });

  const stale = await call(ctx.service.baseUrl, 'DELETE', `/products/${id}`, { token, headers: { 'if-match': '"1"' } });
  const current = await call(ctx.service.baseUrl, 'DELETE', `/products/${id}`, {
    token,
    headers: { 'if-match': '"2"' },
  });

  t.is(expectProblem(t, stale, 412).etag, '"2"');
  t.is(current.status, 204);
  t.is(await ctx.db.productRow(id), undefined);
});

/** One client's edit: read first or not, then PATCH with the ETag it last saw, or without If-Match. */
interface Edit {
  conditional: boolean;
  readFirst: boolean;
}

/** An acknowledged change: the version its 200 announced, what it set, and the If-Match it was sent with. */
interface Acknowledged {
  version: number;
  quantity: number;
  ifMatch: string | undefined;
}

test('random interleavings of edits with and without If-Match → no acknowledged change is lost or silently overwritten', async (t) => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.record({ conditional: fc.boolean(), readFirst: fc.boolean() }), { maxLength: 5 }), {
        minLength: 2,
        maxLength: 4,
      }),
      async (clients: Edit[][]) => {
        runs += 1;
        const { id, token, etag } = await createdProduct();
        const acknowledged: Acknowledged[] = [];
        let nextQuantity = 1;
        const statuses: number[] = [];

        await Promise.all(
          clients.map(async (edits) => {
            let seen = etag;
            for (const edit of edits) {
              if (edit.readFirst) {
                seen = (await call(ctx.service.baseUrl, 'GET', `/products/${id}`)).headers.get('etag') ?? seen;
              }
              const quantity = (nextQuantity += 1);
              const ifMatch = edit.conditional ? seen : undefined;
              const response = await patch(id, token, { quantity }, ifMatch);
              statuses.push(response.status);
              if (response.status === 200) {
                seen = response.headers.get('etag') ?? '';
                acknowledged.push({ version: Number(JSON.parse(seen)), quantity, ifMatch });
              } else if (response.status === 412) {
                seen = (response.body as unknown as ProblemDetails).etag ?? seen;
              }
            }
          }),
        );

        // Every answer is a 200 or, for a conditional edit on a stale version, a 412.
        if (!statuses.every((status) => status === 200 || status === 412)) return false;
        // Acknowledged changes are totally ordered: versions 2, 3, … with no gap and no repeat.
        const versions = acknowledged.map((ack) => ack.version).sort((a, b) => a - b);
        if (!versions.every((version, i) => version === i + 2)) return false;
        // A conditional change was applied on exactly the version its client had seen.
        if (!acknowledged.every((ack) => ack.ifMatch === undefined || ack.ifMatch === `"${ack.version - 1}"`)) {
          return false;
        }
        // The row is the last acknowledged change, and every acknowledged change is one event, as acknowledged.
        const last = acknowledged.reduce<Acknowledged | undefined>(
          (latest, ack) => (latest && latest.version > ack.version ? latest : ack),
          undefined,
        );
        const row = await ctx.db.productRow(id);
        if (row?.quantity !== (last?.quantity ?? 0) || (await versionOf(id)) !== (last?.version ?? 1)) return false;
        const events = await changeEventsOf(id);
        return (
          JSON.stringify(events.map((event) => [event.version, event.quantity])) ===
          JSON.stringify(
            [...acknowledged].sort((a, b) => a.version - b.version).map((ack) => [ack.version, ack.quantity]),
          )
        );
      },
    ),
    { numRuns: 25 },
  );
  t.true(runs >= 25);
});
