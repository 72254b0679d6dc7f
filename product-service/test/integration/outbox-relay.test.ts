import test, { type ExecutionContext } from 'ava';
import type { RecoveringChannelModel } from 'amqplib';
import { connect } from 'amqplib';
import { Writable } from 'node:stream';
import { QueryTypes } from 'sequelize';
import { Sequelize } from 'sequelize-typescript';

import { EVENT_TYPES, type ProductEvent, type ProductSnapshot } from '@shop/shared-contracts';
import { TestEnvironment } from '@shop/test-harness';
import { createLogger } from '@shop/shared-runtime';
import { migrateToLatest, type NewEvent, OutboxRepository, type PlainTransactionRunner, plainTransactionRunner } from '@shop/shared-runtime/db';
import { connectToBroker, OutboxRelay, type OutboxRelayDeps } from '@shop/shared-runtime/messaging';

import type { ProductRecord } from '../../src/repositories/product.repository';
import { productChangedEvent } from '../../src/services/product-events';
import { EventListener } from '../helpers/event-listener';

let env: TestEnvironment | undefined;
const closers: (() => Promise<unknown>)[] = [];

test.before(async () => {
  env = await TestEnvironment.start();
});

test.after.always(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await env?.close();
});

function environment(): TestEnvironment {
  if (!env) throw new Error('the test environment has not started');
  return env;
}

/** One test's own migrated database (no models: the relay and the outbox use plain SQL). */
interface OutboxDatabase {
  sequelize: Sequelize;
  outbox: OutboxRepository;
  withTransaction: PlainTransactionRunner;
}

async function outboxDatabase(label: string): Promise<OutboxDatabase> {
  const { url } = await environment().createDatabase(label);
  const sequelize = new Sequelize(url, { dialect: 'postgres', logging: false, pool: { max: 10 } });
  closers.push(() => sequelize.close());
  await migrateToLatest(sequelize);
  return { sequelize, outbox: new OutboxRepository({ sequelize }), withTransaction: plainTransactionRunner(sequelize) };
}

let relays = 0;

/** A relay on `db` with its own broker connection, as one service instance has. */
async function startRelay(
  db: OutboxDatabase,
  exchange: string,
  options: Partial<OutboxRelayDeps> & { logLines?: string[] } = {},
): Promise<{ relay: OutboxRelay; broker: RecoveringChannelModel }> {
  const lines = options.logLines;
  const logger = createLogger({
    level: lines ? 'info' : 'silent',
    service: 'product-service',
    version: 'test',
    ...(lines ? { destination: lineCollector(lines) } : {}),
  });
  const relay = new OutboxRelay({
    exchange,
    outbox: db.outbox,
    withTransaction: db.withTransaction,
    logger,
    ...options,
  });
  relays += 1;
  const broker = await connectToBroker({
    url: environment().amqpUrl,
    connectionName: `product-service.test.${environment().runId}.relay${relays}`,
    setup: relay.setup,
    logger,
  });
  closers.push(async () => {
    await relay.stop(1000);
    await broker.close();
  });
  await broker.waitForConnect();
  return { relay, broker };
}

function lineCollector(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
}

async function listenTo(exchange: string, label: string): Promise<EventListener> {
  const queue = environment().queueName(`relay.listener.${label}`);
  const listener = await EventListener.bind(environment().amqpUrl, exchange, queue);
  closers.push(() => listener.close());
  return listener;
}

let products = 0;

/** A valid event of this service, about a product of its own. */
function sampleEvent(): NewEvent<ProductEvent> {
  products += 1;
  const at = new Date();
  const product: ProductRecord = {
    id: products,
    name: `Lamp ${products}`,
    description: null,
    price: '19.90',
    quantity: 3,
    ownerId: 7,
    createdAt: at,
    updatedAt: at,
  };
  return productChangedEvent(EVENT_TYPES.productUpdated, product, 7, { requestId: `relay-test-${products}` });
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

test('two relays on one database, 200 waiting events → every event published exactly once (SKIP LOCKED)', async (t) => {
  const db = await outboxDatabase('tworelays');
  const exchange = environment().exchangeName('product.events.tworelays');
  const listener = await listenTo(exchange, 'tworelays');
  const first = await startRelay(db, exchange, { batchSize: 10 });
  const second = await startRelay(db, exchange, { batchSize: 10 });
  const events = Array.from({ length: 200 }, () => sampleEvent());
  await db.withTransaction(async (transaction) => {
    for (const event of events) await db.outbox.add(event, { transaction });
  });

  first.relay.notify();
  second.relay.notify();

  await listener.waitFor(200, () => true);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const ids = listener.events().map((event) => event.properties.messageId as string);
  t.is(ids.length, 200, 'no event published twice');
  t.deepEqual([...ids].sort(), events.map((event) => event.id).sort());
  t.is(first.relay.stats.published + second.relay.stats.published, 200);
  t.true(first.relay.stats.published > 0 && second.relay.stats.published > 0, 'both relays took a share');
  t.log(`published by the first relay: ${first.relay.stats.published}, by the second: ${second.relay.stats.published}`);
  t.true((await rowsOf(db)).every((row) => row.published_at !== null && row.attempts === 1));
});

test('an event that fails its schema is parked (failed_at, the reason), logged, and does not hold up the events after it', async (t) => {
  const db = await outboxDatabase('parking');
  const exchange = environment().exchangeName('product.events.parking');
  const listener = await listenTo(exchange, 'parking');
  const before = sampleEvent();
  const broken = sampleEvent();
  const unknownType = { ...sampleEvent(), type: 'product.something_else' };
  const after = sampleEvent();
  // One transaction each, so they occur in this order.
  await db.outbox.add(before);
  const productWithoutName: Partial<ProductSnapshot> = { ...broken.data.product };
  delete productWithoutName.name;
  await db.outbox.add({ ...broken, data: { ...broken.data, product: productWithoutName } } as unknown as NewEvent);
  await db.outbox.add(unknownType as unknown as NewEvent);
  await db.outbox.add(after);
  const logLines: string[] = [];

  const { relay } = await startRelay(db, exchange, { logLines });
  relay.notify();

  const received = await listener.waitFor(2, () => true);
  t.deepEqual(
    received.map((event) => event.properties.messageId as string),
    [before.id, after.id],
  );
  await eventually(t, async () => relay.stats.parked === 2, 'both bad rows to be parked');
  const rows = await rowsOf(db);
  const parked = rows.filter((row) => row.failed_at !== null);
  t.deepEqual(parked.map((row) => row.id).sort(), [broken.id, unknownType.id].sort());
  t.true(parked.every((row) => row.published_at === null && row.attempts === 1));
  t.regex(parked.find((row) => row.id === broken.id)?.last_error ?? '', /data\.product\.name.*required/);
  t.regex(parked.find((row) => row.id === unknownType.id)?.last_error ?? '', /unknown event type/);
  const logged = logLines.map((line) => JSON.parse(line) as { level: number; event_id?: string; msg: string });
  t.true(logged.some((line) => line.level === 50 && line.event_id === broken.id && /parked/.test(line.msg)));

  relay.notify();
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.is(listener.events().length, 2, 'parked events are never tried again');
});

test('the exchange deleted under a live connection → the batch rolls back and counts as a failed attempt; the relay reopens its channel and publishes', async (t) => {
  const db = await outboxDatabase('reopen');
  const exchange = environment().exchangeName('product.events.reopen');
  const { relay } = await startRelay(db, exchange, { pollIntervalMs: 200 });
  const admin = await connect(environment().amqpUrl);
  closers.push(() => admin.close());
  await (await admin.createChannel()).deleteExchange(exchange);
  const event = sampleEvent();

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
