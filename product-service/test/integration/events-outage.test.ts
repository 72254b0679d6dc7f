import test from 'ava';
import { QueryTypes } from 'sequelize';

import type { ProductEvent } from '@shop/shared-contracts';
import { call, EventListener, TcpProxy, TestEnvironment, waitUntil } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import type { TokenValidator } from '../../src/services/token-validator';
import { newUserId, productInput } from '../helpers/factories';
import {
  openTestDatabase,
  startProductService,
  type StartedProductService,
  type TestDatabase,
} from '../helpers/product-service';

/**
 * The service reaches RabbitMQ through a TCP proxy of this file's own, so cutting the proxy is a
 * broker outage for this service alone: the shared broker and every other test keep running.
 * The listener connects to the broker directly and sees what the service publishes.
 *
 * Writes need a validated token, and the token-validation RPC travels over the very connection
 * that is cut, so it answers 503 while the broker is away (as it must). What is under test here
 * is the outbox, not authentication: the service gets a fake validator that accepts the owner's
 * token, so writes keep succeeding during the outage and their events have to wait.
 */
let env: TestEnvironment | undefined;
let db: TestDatabase | undefined;
let proxy: TcpProxy | undefined;
let service: StartedProductService | undefined;
let listener: EventListener | undefined;

const ownerId = newUserId();

const acceptsTheOwner: TokenValidator = {
  validate: () => Promise.resolve({ userId: ownerId, username: 'owner', expiresAt: new Date(Date.now() + 600_000) }),
};

test.before(async () => {
  env = await TestEnvironment.start();
  db = await openTestDatabase(env);
  const broker = new URL(env.amqpUrl);
  proxy = await TcpProxy.start({ targetHost: broker.hostname, targetPort: Number(broker.port || 5672) });
  service = await startProductService(env, db, {
    queue: env.queueName('auth.validate_token'),
    env: { AMQP_URL: proxy.proxiedUrl(env.amqpUrl) },
    tokenValidator: acceptsTheOwner,
  });
  listener = await EventListener.bind(
    env.amqpUrl,
    service.config.amqp.productEventsExchange,
    env.queueName('product.events.outage'),
  );
});

test.after.always(async () => {
  await listener?.close();
  await service?.close();
  await proxy?.close();
  await db?.close();
  await env?.close();
});

const CREATES = 15;

/** How long the outage lasts, in ms: long enough for several reconnect attempts to fail. */
const OUTAGE_MS = 2000;

test('broker outage → writes still succeed; their events wait in the outbox and all arrive once the broker is back', async (t) => {
  const { baseUrl, relay } = service!;
  const token = 'accepted-by-the-fake-validator';
  const before = await call<PublicProduct>(baseUrl, 'POST', '/products', { token, json: productInput() });
  await listener!.waitFor(1, () => true);
  // The listener can see the event before the relay has its confirm and marks it published: a
  // cut in between would leave that event waiting too, and published again after the outage.
  await waitUntil(() => relay.stats.published >= 1, 'the first event to be marked published');

  proxy!.cut();
  await waitUntil(() => !relay.isReady, 'the relay to lose its channel');
  const created = await Promise.all(
    Array.from({ length: CREATES }, () =>
      call<PublicProduct>(baseUrl, 'POST', '/products', { token, json: productInput() }),
    ),
  );
  const updated = await call(baseUrl, 'PATCH', `/products/${before.body.id}`, { token, json: { quantity: 9 } });
  const deleted = await call(baseUrl, 'DELETE', `/products/${created[0]!.body.id}`, { token });

  t.deepEqual(
    [...created.map((response) => response.status), updated.status, deleted.status],
    [...Array<number>(CREATES).fill(201), 200, 204],
    'writes need no broker',
  );
  const changes = CREATES + 2;
  const [waiting] = await db!.sequelize.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM outbox_events WHERE published_at IS NULL',
    { type: QueryTypes.SELECT },
  );
  t.is(waiting?.count, changes, 'every event waits in the outbox');
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  t.is(listener!.events().length, 1, 'nothing was published during the outage');

  const restoredAt = Date.now();
  proxy!.restore();

  const received = await listener!.waitFor(1 + changes, () => true, 30_000);
  const elapsedMs = Date.now() - restoredAt;
  const ids = received.slice(1).map((event) => event.properties.messageId as string);
  const distinct = new Set(ids);
  t.is(distinct.size, changes, 'every change has its event');
  const expected = [
    ...created.map((response) => `product.created:${response.body.id}`),
    `product.updated:${before.body.id}`,
    `product.deleted:${created[0]!.body.id}`,
  ];
  const arrived = received.slice(1).map((event) => {
    const body = event.body as ProductEvent;
    return `${body.type}:${body.data.product.id}`;
  });
  t.deepEqual([...new Set(arrived)].sort(), expected.sort(), 'no event is missing');
  t.log(
    `all ${changes} events arrived ${elapsedMs} ms after restore(); duplicates seen: ${ids.length - distinct.size}`,
  );
});
