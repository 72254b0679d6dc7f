import test from 'ava';
import type { ChannelModel, Options } from 'amqplib';
import { EventEmitter } from 'node:events';

import { EVENT_TYPES, REQUEST_ID_HEADER, type DomainEvent } from '@shop/shared-contracts';
import { createLogger } from '@shop/shared-runtime';
import type { ClaimedEvent, NewEvent, OutboxRepository, Transaction, TransactionRunner } from '@shop/shared-runtime/db';
import { checkEvent, OutboxRelay } from '@shop/shared-runtime/messaging';

import type { ProductRecord } from '../../src/repositories/product.repository';
import { productChangedEvent } from '../../src/services/product-events';

const logger = createLogger({ level: 'silent', service: 'product-service', version: 'test' });

/** A confirm channel that records what is published and confirms as the test says. */
class FakeChannel extends EventEmitter {
  readonly published: { exchange: string; routingKey: string; body: unknown; options: Options.Publish }[] = [];
  confirm: () => Promise<void> = () => Promise.resolve();
  closed = false;

  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): boolean {
    this.published.push({ exchange, routingKey, body: JSON.parse(content.toString('utf8')), options });
    return true;
  }

  waitForConfirms(): Promise<void> {
    return this.confirm();
  }

  assertExchange(exchange: string): Promise<{ exchange: string }> {
    return Promise.resolve({ exchange });
  }

  close(): Promise<void> {
    this.closed = true;
    this.emit('close');
    return Promise.resolve();
  }
}

function fakeConnection(channel: FakeChannel): ChannelModel {
  const connection = new EventEmitter() as EventEmitter & { createConfirmChannel: () => Promise<FakeChannel> };
  connection.createConfirmChannel = () => Promise.resolve(channel);
  return connection as unknown as ChannelModel;
}

/** A transaction that applies the writes made in it only when it commits. */
interface FakeTransaction {
  onCommit: (() => void)[];
}

/** The outbox in memory, with the database's transaction semantics where the relay relies on them. */
class FakeOutbox {
  readonly rows: ClaimedEvent[] = [];
  readonly published = new Set<string>();
  readonly parked = new Map<string, string>();
  readonly attemptFailures: { ids: readonly string[]; error: string }[] = [];
  claims = 0;

  add(event: NewEvent): void {
    const payload = { ...event, occurred_at: new Date().toISOString() };
    this.rows.push({ id: event.id, type: event.type, payload });
  }

  claimBatch(limit: number): Promise<ClaimedEvent[]> {
    this.claims += 1;
    const waiting = this.rows.filter((row) => !this.published.has(row.id) && !this.parked.has(row.id));
    return Promise.resolve(waiting.slice(0, limit));
  }

  markPublished(ids: readonly string[], transaction: Transaction): Promise<void> {
    (transaction as unknown as FakeTransaction).onCommit.push(() => {
      for (const id of ids) this.published.add(id);
    });
    return Promise.resolve();
  }

  markFailed(id: string, error: string, options: { transaction: Transaction }): Promise<void> {
    (options.transaction as unknown as FakeTransaction).onCommit.push(() => {
      this.parked.set(id, error);
    });
    return Promise.resolve();
  }

  recordAttemptFailure(ids: readonly string[], error: string): Promise<void> {
    this.attemptFailures.push({ ids, error });
    return Promise.resolve();
  }
}

const withFakeTransaction: TransactionRunner = async (work) => {
  const transaction: FakeTransaction = { onCommit: [] };
  const result = await work(transaction as unknown as Transaction);
  for (const apply of transaction.onCommit) apply();
  return result;
};

function relayWith(outbox: FakeOutbox, options: { confirmTimeoutMs?: number; batchSize?: number } = {}): OutboxRelay {
  return new OutboxRelay({
    exchange: 'product.events.unit',
    outbox: outbox as unknown as OutboxRepository,
    withTransaction: withFakeTransaction,
    logger,
    pollIntervalMs: 60_000,
    ...options,
  });
}

let products = 0;

function sampleEvent(requestId: string | null = 'req-1'): NewEvent {
  products += 1;
  const at = new Date(1_800_000_000_000);
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
  return productChangedEvent(EVENT_TYPES.productUpdated, product, 7, { requestId });
}

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 2000) throw new Error('condition never held');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A promise and the function that settles it, to hold a confirm back. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

test('setup → declares the exchange, then publishes what waited, as persistent messages with the event’s id, type and request id', async (t) => {
  const outbox = new FakeOutbox();
  const withRequest = sampleEvent('req-42');
  const withoutRequest = sampleEvent(null);
  outbox.add(withRequest);
  outbox.add(withoutRequest);
  const channel = new FakeChannel();
  const relay = relayWith(outbox);

  await relay.setup(fakeConnection(channel));

  await until(() => outbox.published.size === 2);
  const [first, second] = channel.published;
  t.like(first, { exchange: 'product.events.unit', routingKey: withRequest.type });
  t.like(first?.options, {
    persistent: true,
    messageId: withRequest.id,
    type: withRequest.type,
    appId: 'product-service',
    contentType: 'application/json',
  });
  t.deepEqual(first?.options.headers, { [REQUEST_ID_HEADER]: 'req-42' });
  t.is(first?.options.timestamp, Math.floor(Date.parse((first!.body as DomainEvent).occurred_at) / 1000));
  t.is(second?.options.headers, undefined, 'no request id header when no request caused the event');
  t.like(relay.stats, { published: 2, failedAttempts: 0, parked: 0 });
  await relay.stop();
});

test('notify during a drain → exactly one more pass, however many notifies came', async (t) => {
  const outbox = new FakeOutbox();
  outbox.add(sampleEvent());
  const channel = new FakeChannel();
  const held = deferred();
  channel.confirm = () => held.promise;
  const relay = relayWith(outbox);
  await relay.setup(fakeConnection(channel));
  await until(() => channel.published.length === 1);

  for (let i = 0; i < 5; i += 1) relay.notify();
  held.resolve();

  await until(() => outbox.claims === 2);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(outbox.claims, 2);
  t.is(outbox.published.size, 1);
  await relay.stop();
});

test('a nack → the batch rolls back (nothing marked), the attempt is recorded, and the next drain publishes it', async (t) => {
  const outbox = new FakeOutbox();
  const event = sampleEvent();
  outbox.add(event);
  const channel = new FakeChannel();
  channel.confirm = () => Promise.reject(new Error('message nacked'));
  const relay = relayWith(outbox);

  await relay.setup(fakeConnection(channel));

  await until(() => outbox.attemptFailures.length === 1);
  t.is(outbox.published.size, 0);
  t.deepEqual(outbox.attemptFailures, [{ ids: [event.id], error: 'message nacked' }]);
  t.like(relay.stats, { published: 0, failedAttempts: 1 });

  channel.confirm = () => Promise.resolve();
  relay.notify();

  await until(() => outbox.published.has(event.id));
  t.like(relay.stats, { published: 1, failedAttempts: 1 });
  await relay.stop();
});

test('no confirm within the timeout → the attempt fails and the channel is closed, so late confirms cannot count', async (t) => {
  const outbox = new FakeOutbox();
  outbox.add(sampleEvent());
  const channel = new FakeChannel();
  channel.confirm = () => new Promise<void>(() => undefined);
  const relay = relayWith(outbox, { confirmTimeoutMs: 50 });

  await relay.setup(fakeConnection(channel));

  await until(() => outbox.attemptFailures.length === 1);
  t.regex(outbox.attemptFailures[0]?.error ?? '', /no publisher confirms within 50 ms/);
  t.true(channel.closed);
  t.false(relay.isReady);
  t.is(outbox.published.size, 0);
  await relay.stop();
});

test('an event that fails its schema is parked in the batch’s transaction; the rest of the batch goes out', async (t) => {
  const outbox = new FakeOutbox();
  const good = sampleEvent();
  outbox.add(good);
  outbox.rows.unshift({ id: 'a1b2c3d4-0000-4000-8000-000000000000', type: 'product.updated', payload: { id: 'x' } });
  const channel = new FakeChannel();
  const relay = relayWith(outbox);

  await relay.setup(fakeConnection(channel));

  await until(() => outbox.published.has(good.id));
  t.deepEqual([...outbox.parked.keys()], ['a1b2c3d4-0000-4000-8000-000000000000']);
  t.is(channel.published.length, 1);
  t.like(relay.stats, { published: 1, parked: 1 });
  await relay.stop();
});

test('without a channel nothing is claimed: events wait for the broker', async (t) => {
  const outbox = new FakeOutbox();
  outbox.add(sampleEvent());
  const relay = relayWith(outbox);

  relay.start();
  relay.notify();
  await new Promise((resolve) => setTimeout(resolve, 20));

  t.is(outbox.claims, 0);
  await relay.stop();
});

test('stop → waits for the batch in flight, publishes once more what was recorded meanwhile, closes the channel; later notifies do nothing', async (t) => {
  const outbox = new FakeOutbox();
  const inFlight = sampleEvent();
  outbox.add(inFlight);
  const channel = new FakeChannel();
  const held = deferred();
  channel.confirm = () => held.promise;
  const relay = relayWith(outbox);
  await relay.setup(fakeConnection(channel));
  await until(() => channel.published.length === 1);
  const recordedMeanwhile = sampleEvent();
  outbox.add(recordedMeanwhile);

  const stopped = relay.stop();
  setTimeout(held.resolve, 30);
  await stopped;

  t.true(outbox.published.has(inFlight.id));
  t.true(outbox.published.has(recordedMeanwhile.id), 'the last pass took it');
  t.true(channel.closed);
  const claims = outbox.claims;
  outbox.add(sampleEvent());
  relay.notify();
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(outbox.claims, claims);
});

test('checkEvent → refuses an unknown type, a payload failing its schema, and a payload whose id is not the row’s', (t) => {
  const event = { ...sampleEvent(), occurred_at: '2026-01-01T00:00:00.000Z' };
  t.deepEqual(checkEvent({ id: event.id, type: event.type, payload: event }), { ok: true, event });
  t.like(checkEvent({ id: event.id, type: 'product.unknown', payload: event }), { ok: false });
  t.like(checkEvent({ id: event.id, type: 'constructor', payload: event }), { ok: false });
  t.like(checkEvent({ id: event.id, type: event.type, payload: { ...event, data: {} } }), { ok: false });
  const otherId = 'a1b2c3d4-0000-4000-8000-000000000000';
  const mismatch = checkEvent({ id: otherId, type: event.type, payload: event });
  t.like(mismatch, { ok: false });
  t.regex(mismatch.ok ? '' : mismatch.reason, /not the row id/);
});
