import test, { type ExecutionContext } from 'ava';
import type { RecoveringChannelModel } from 'amqplib';
import { connect } from 'amqplib';
import { QueryTypes } from 'sequelize';
import type { Sequelize } from 'sequelize-typescript';

import type { ProductSnapshot } from '@shop/shared-contracts';

import { EventListener } from '@shop/test-harness';

import { brokerUserOf, createLogger } from '../../src';
import {
  migrateToLatest,
  OutboxRepository,
  plainTransactionRunner,
  type NewEvent,
  type PlainTransactionRunner,
} from '../../src/db';
import { connectToBroker, OutboxRelay, type OutboxRelayDeps } from '../../src/messaging';
import { FIXTURE_MIGRATIONS, useTestEnvironment } from '../helpers/environment';
import { newEvent, newProductUpdatedEvent, newTokenRevokedEvent } from '../helpers/events';
import { lineCollector } from '../helpers/http';

const ctx = useTestEnvironment();

/** One test's own migrated database (no models: the relay and the outbox use plain SQL). */
interface OutboxDatabase {
  sequelize: Sequelize;
  outbox: OutboxRepository;
  withTransaction: PlainTransactionRunner;
}

async function outboxDatabase(label: string): Promise<OutboxDatabase> {
  const { sequelize } = await ctx.emptyDatabase(label, { poolMax: 10 });
  await migrateToLatest(sequelize, FIXTURE_MIGRATIONS);
  return { sequelize, outbox: new OutboxRepository({ sequelize }), withTransaction: plainTransactionRunner(sequelize) };
}

let relays = 0;

/** A relay on `db` with its own broker connection, as one service instance has. */
async function startRelay(
  db: OutboxDatabase,
  exchange: string,
  options: Partial<OutboxRelayDeps> & { logLines?: string[] } = {},
): Promise<{ relay: OutboxRelay; broker: RecoveringChannelModel }> {
  const { logLines, ...deps } = options;
  const logger = createLogger({
    level: logLines ? 'info' : 'silent',
    service: 'test-service',
    version: 'test',
    ...(logLines ? { destination: lineCollector(logLines) } : {}),
  });
  const relay = new OutboxRelay({
    exchange,
    appId: 'test-service',
    userId: brokerUserOf(ctx.env.amqpUrl),
    outbox: db.outbox,
    withTransaction: db.withTransaction,
    logger,
    ...deps,
  });
  relays += 1;
  const broker = await connectToBroker({
    urls: [ctx.env.amqpUrl],
    connectionName: `shared-runtime.test.${ctx.env.runId}.relay${relays}`,
    setup: relay.setup,
    logger,
  });
  ctx.closeLater(async () => {
    await relay.stop(1000);
    await broker.close();
  });
  await broker.waitForConnect();
  return { relay, broker };
}

async function listenTo(exchange: string, label: string): Promise<EventListener> {
  const queue = ctx.env.queueName(`relay.listener.${label}`);
  const listener = await EventListener.bind(ctx.env.amqpUrl, exchange, queue);
  ctx.closeLater(() => listener.close());
  return listener;
}

async function rowsOf(db: OutboxDatabase) {
  return db.sequelize.query<{
    id: string;
    published_at: Date | null;
    failed_at: Date | null;
    attempts: number;
    last_error: string | null;
  }>('SELECT id, published_at, failed_at, attempts, last_error FROM outbox_events ORDER BY occurred_at, id', {
    type: QueryTypes.SELECT,
  });
}

async function eventually(t: ExecutionContext, condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting for ${what}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('OutboxRelay: two relays on one database, 200 waiting events → every event published exactly once (SKIP LOCKED)', async (t) => {
  const db = await outboxDatabase('tworelays');
  const exchange = ctx.env.exchangeName('events.tworelays');
  const listener = await listenTo(exchange, 'tworelays');
  const first = await startRelay(db, exchange, { batchSize: 10 });
  const second = await startRelay(db, exchange, { batchSize: 10 });
  const events = Array.from({ length: 200 }, (_, index) => newEvent(`relay-test-${index}`));
  await db.withTransaction(async (transaction) => {
    for (const event of events) await db.outbox.add(event, { transaction });
  });

  first.relay.notify();
  second.relay.notify();

  await listener.waitFor(200, () => true);
  // A fixed wait, as what it shows is that nothing more comes: a duplicate, had one been
  // published, would be on its way.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const ids = listener.events().map((event) => event.properties.messageId as string);
  t.is(ids.length, 200, 'no event published twice');
  t.deepEqual([...ids].sort(), events.map((event) => event.id).sort());
  t.is(first.relay.stats.published + second.relay.stats.published, 200);
  t.true(first.relay.stats.published > 0 && second.relay.stats.published > 0, 'both relays took a share');
  t.log(`published by the first relay: ${first.relay.stats.published}, by the second: ${second.relay.stats.published}`);
  t.true((await rowsOf(db)).every((row) => row.published_at !== null && row.attempts === 1));
});

test('OutboxRelay: an event that fails its schema → parked (failed_at, the reason), logged, and does not hold up the events after it', async (t) => {
  const db = await outboxDatabase('parking');
  const exchange = ctx.env.exchangeName('events.parking');
  const listener = await listenTo(exchange, 'parking');
  const before = newEvent();
  // One broken event of each service: a revoked token without its jti, a product without its name.
  const brokenToken = newTokenRevokedEvent();
  const brokenProduct = newProductUpdatedEvent();
  const unknownAuthType = { ...newTokenRevokedEvent(), type: 'auth.something_else' };
  const unknownProductType = { ...newProductUpdatedEvent(), type: 'product.something_else' };
  const after = newEvent();
  // One transaction each, so they occur in this order.
  await db.outbox.add(before);
  const { user_id, exp } = brokenToken.data;
  await db.outbox.add({ ...brokenToken, data: { user_id, exp } } as unknown as NewEvent);
  const productWithoutName: Partial<ProductSnapshot> = { ...brokenProduct.data.product };
  delete productWithoutName.name;
  await db.outbox.add({
    ...brokenProduct,
    data: { ...brokenProduct.data, product: productWithoutName },
  } as unknown as NewEvent);
  await db.outbox.add(unknownAuthType as unknown as NewEvent);
  await db.outbox.add(unknownProductType as unknown as NewEvent);
  await db.outbox.add(after);
  const logLines: string[] = [];

  const { relay } = await startRelay(db, exchange, { logLines });
  relay.notify();

  const received = await listener.waitFor(2, () => true);
  t.deepEqual(
    received.map((event) => event.properties.messageId as string),
    [before.id, after.id],
  );
  await eventually(t, async () => relay.stats.parked === 4, 'the four bad rows to be parked');
  const rows = await rowsOf(db);
  const parked = rows.filter((row) => row.failed_at !== null);
  t.deepEqual(
    parked.map((row) => row.id).sort(),
    [brokenToken.id, brokenProduct.id, unknownAuthType.id, unknownProductType.id].sort(),
  );
  t.true(parked.every((row) => row.published_at === null && row.attempts === 1));
  t.regex(parked.find((row) => row.id === brokenToken.id)?.last_error ?? '', /data\.jti.*required/);
  t.regex(parked.find((row) => row.id === brokenProduct.id)?.last_error ?? '', /data\.product\.name.*required/);
  t.regex(parked.find((row) => row.id === unknownAuthType.id)?.last_error ?? '', /unknown event type/);
  t.regex(parked.find((row) => row.id === unknownProductType.id)?.last_error ?? '', /unknown event type/);
  const logged = logLines.map((line) => JSON.parse(line) as { level: number; event_id?: string; msg: string });
  t.true(logged.some((line) => line.level === 50 && line.event_id === brokenToken.id && /parked/.test(line.msg)));
  t.true(logged.some((line) => line.level === 50 && line.event_id === brokenProduct.id && /parked/.test(line.msg)));

  // One more event, and a drain: once it is out, that drain has passed the parked rows by.
  const later = newEvent();
  await db.outbox.add(later);
  relay.notify();
  await listener.waitFor(3, () => true);
  t.deepEqual(
    listener.events().map((event) => event.properties.messageId as string),
    [before.id, after.id, later.id],
    'parked events are never tried again',
  );
  t.true((await rowsOf(db)).filter((row) => row.failed_at !== null).every((row) => row.attempts === 1));
  t.is(relay.stats.parked, 4);
});

test('OutboxRelay: the exchange deleted under a live connection → the batch rolls back and counts as a failed attempt; the relay reopens its channel and publishes', async (t) => {
  const db = await outboxDatabase('reopen');
  const exchange = ctx.env.exchangeName('events.reopen');
  const { relay } = await startRelay(db, exchange, { pollIntervalMs: 200 });
  const admin = await connect(ctx.env.amqpUrl);
  ctx.closeLater(() => admin.close());
  await (await admin.createChannel()).deleteExchange(exchange);
  const event = newEvent();

  await db.outbox.add(event);
  relay.notify();

  await eventually(t, async () => relay.stats.failedAttempts >= 1, 'a failed attempt');
  const [failed] = await rowsOf(db);
  t.is(failed?.published_at, null, 'rolled back: not marked published');
  await eventually(
    t,
    async () => (await rowsOf(db))[0]?.published_at !== null && relay.stats.published === 1,
    'the event to be published on the reopened channel',
  );
  const [published] = await rowsOf(db);
  t.true((published?.attempts ?? 0) >= 2);
  t.truthy(published?.last_error, 'the failure stays on record');
  await t.notThrowsAsync((await admin.createChannel()).checkExchange(exchange), 'the relay declared it again');
});

test('OutboxRelay → every message carries the appId it was given', async (t) => {
  const db = await outboxDatabase('appid');
  const exchange = ctx.env.exchangeName('events.appid');
  const listener = await listenTo(exchange, 'appid');
  const { relay } = await startRelay(db, exchange, { appId: 'product-service' });
  const event = newEvent();

  await db.outbox.add(event);
  relay.notify();

  const [received] = await listener.waitFor(1, (message) => message.properties.messageId === event.id);
  t.is(received?.properties.appId, 'product-service');
});
