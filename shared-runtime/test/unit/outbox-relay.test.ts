import test from 'ava';
import type { ChannelModel, Options } from 'amqplib';
import { EventEmitter } from 'node:events';

import { REQUEST_ID_HEADER, type DomainEvent } from '@shop/shared-contracts';
import { waitUntil } from '@shop/test-harness';

import { createLogger } from '../../src';
import type { ClaimedEvent, NewEvent, OutboxRepository, Transaction, TransactionRunner } from '../../src/db';
import { FlowControl, OutboxRelay } from '../../src/messaging';
import { checkEvent } from '../../src/messaging/outbox-relay';
import { newEvent, newProductUpdatedEvent, newTokenRevokedEvent } from '../helpers/events';

const logger = createLogger({ level: 'silent', service: 'test-service', version: 'test' });

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
    this.rows.push({ id: event.id, type: event.type, payload, traceparent: null });
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

function relayWith(
  outbox: FakeOutbox,
  options: {
    confirmTimeoutMs?: number;
    batchSize?: number;
    appId?: string;
    userId?: string;
    flowControl?: FlowControl;
  } = {},
): OutboxRelay {
  return new OutboxRelay({
    exchange: 'events.unit',
    appId: 'test-service',
    userId: 'test-service-user',
    outbox: outbox as unknown as OutboxRepository,
    withTransaction: withFakeTransaction,
    logger,
    pollIntervalMs: 60_000,
    ...options,
  });
}

const until = (condition: () => boolean) => waitUntil(condition, 'the relay', { intervalMs: 5 });

/**
 * Waits `ms` for something that must not happen. A fixed wait, as that is what it shows; enough,
 * as every step of the relay on these fakes is a promise or its 5 ms linger timer, which expires
 * (and runs) before a longer timer set after it, however loaded the machine.
 */
const nothingHappensFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise and the function that settles it, to hold a confirm back. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

test('OutboxRelay.setup → declares the exchange, then publishes what waited, as persistent messages with the event’s id, type, request id and the service’s appId', async (t) => {
  const outbox = new FakeOutbox();
  // One event of each service's exchange: the relay publishes whatever was recorded the same way.
  const withRequest = newTokenRevokedEvent({ requestId: 'req-42' });
  const withoutRequest = newProductUpdatedEvent({ requestId: null });
  outbox.add(withRequest);
  outbox.add(withoutRequest);
  const channel = new FakeChannel();
  const relay = relayWith(outbox, { appId: 'user-service' });

  await relay.setup(fakeConnection(channel));

  await until(() => outbox.published.size === 2);
  const [first, second] = channel.published;
  t.like(first, { exchange: 'events.unit', routingKey: withRequest.type });
  t.like(first?.options, {
    persistent: true,
    messageId: withRequest.id,
    type: withRequest.type,
    appId: 'user-service',
    contentType: 'application/json',
  });
  t.deepEqual(first?.options.headers, { [REQUEST_ID_HEADER]: 'req-42' });
  t.is(first?.options.timestamp, Math.floor(Date.parse((first!.body as DomainEvent).occurred_at) / 1000));
  t.like(second, { exchange: 'events.unit', routingKey: withoutRequest.type });
  t.like(second?.options, { messageId: withoutRequest.id, type: withoutRequest.type, appId: 'user-service' });
  t.is(second?.options.headers, undefined, 'no request id header when no request caused the event');
  t.like(relay.stats, { published: 2, failedAttempts: 0, parked: 0 });
  await relay.stop();
});

test('OutboxRelay → the appId and userId of every message are the ones the relay was given', async (t) => {
  const outbox = new FakeOutbox();
  outbox.add(newProductUpdatedEvent());
  const channel = new FakeChannel();
  const relay = relayWith(outbox, { appId: 'product-service' });

  await relay.setup(fakeConnection(channel));

  await until(() => outbox.published.size === 1);
  t.is(channel.published[0]?.options.appId, 'product-service');
  t.is(channel.published[0]?.options.userId, 'test-service-user', 'the broker user RabbitMQ checks it against');
  await relay.stop();
});

test('OutboxRelay.notify during a drain → exactly one more pass, however many notifies came', async (t) => {
  const outbox = new FakeOutbox();
  outbox.add(newEvent());
  const channel = new FakeChannel();
  const held = deferred();
  channel.confirm = () => held.promise;
  const relay = relayWith(outbox);
  await relay.setup(fakeConnection(channel));
  await until(() => channel.published.length === 1);

  for (let i = 0; i < 5; i += 1) relay.notify();
  held.resolve();

  await until(() => outbox.claims === 2);
  await nothingHappensFor(50);
  t.is(outbox.claims, 2);
  t.is(outbox.published.size, 1);
  await relay.stop();
});

test('OutboxRelay: a nack → the batch rolls back (nothing marked), the attempt is recorded, and the next drain publishes it', async (t) => {
  const outbox = new FakeOutbox();
  const event = newEvent();
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

test('OutboxRelay: no confirm within the timeout → the attempt fails and the channel is closed, so late confirms cannot count', async (t) => {
  const outbox = new FakeOutbox();
  outbox.add(newEvent());
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

test('OutboxRelay: an event that fails its schema → parked in the batch’s transaction; the rest of the batch goes out', async (t) => {
  const outbox = new FakeOutbox();
  const good = newEvent();
  outbox.add(good);
  // A known type of each exchange whose payload is not an event of it.
  const badAuth = 'a1b2c3d4-0000-4000-8000-000000000000';
  const badProduct = 'a1b2c3d4-0000-4000-8000-000000000001';
  outbox.rows.unshift({ id: badAuth, type: 'auth.token_revoked', payload: { id: 'x' }, traceparent: null });
  outbox.rows.unshift({ id: badProduct, type: 'product.updated', payload: { id: 'x' }, traceparent: null });
  const channel = new FakeChannel();
  const relay = relayWith(outbox);

  await relay.setup(fakeConnection(channel));

  await until(() => outbox.published.has(good.id));
  t.deepEqual([...outbox.parked.keys()].sort(), [badAuth, badProduct]);
  t.is(channel.published.length, 1);
  t.like(relay.stats, { published: 1, parked: 2 });
  await relay.stop();
});

test('OutboxRelay: without a channel → nothing is claimed; events wait for the broker', async (t) => {
  const outbox = new FakeOutbox();
  outbox.add(newEvent());
  const relay = relayWith(outbox);

  relay.start();
  relay.notify();
  await nothingHappensFor(20);

  t.is(outbox.claims, 0);
  await relay.stop();
});

test('OutboxRelay.stop → waits for the batch in flight, publishes once more what was recorded meanwhile, closes the channel; later notifies do nothing', async (t) => {
  const outbox = new FakeOutbox();
  const inFlight = newEvent();
  outbox.add(inFlight);
  const channel = new FakeChannel();
  const held = deferred();
  channel.confirm = () => held.promise;
  const relay = relayWith(outbox);
  await relay.setup(fakeConnection(channel));
  await until(() => channel.published.length === 1);
  const recordedMeanwhile = newEvent();
  outbox.add(recordedMeanwhile);

  const stopped = relay.stop();
  setTimeout(held.resolve, 30);
  await stopped;

  t.true(outbox.published.has(inFlight.id));
  t.true(outbox.published.has(recordedMeanwhile.id), 'the last pass took it');
  t.true(channel.closed);
  const claims = outbox.claims;
  outbox.add(newEvent());
  relay.notify();
  await nothingHappensFor(20);
  t.is(outbox.claims, claims);
});

test('OutboxRelay while the broker blocks publishing → claims nothing; the moment it unblocks, publishes what waited', async (t) => {
  const outbox = new FakeOutbox();
  const flowControl = new FlowControl();
  flowControl.brokerBlocked('low on memory');
  const channel = new FakeChannel();
  const relay = relayWith(outbox, { flowControl });
  await relay.setup(fakeConnection(channel));

  outbox.add(newEvent());
  relay.notify();
  await nothingHappensFor(50);
  t.is(outbox.claims, 0, 'no batch claimed (and so no row held locked) while blocked');
  t.is(channel.published.length, 0);

  flowControl.brokerUnblocked();
  await until(() => outbox.published.size === 1);
  t.like(relay.stats, { published: 1, failedAttempts: 0 });
  await relay.stop();
});

test('OutboxRelay: a batch out when the broker blocks → waits for its confirms past the timeout, then commits once', async (t) => {
  const outbox = new FakeOutbox();
  outbox.add(newEvent());
  const flowControl = new FlowControl();
  const channel = new FakeChannel();
  const held = deferred();
  channel.confirm = () => held.promise;
  const relay = relayWith(outbox, { flowControl, confirmTimeoutMs: 20 });
  await relay.setup(fakeConnection(channel));
  await until(() => channel.published.length === 1);

  flowControl.brokerBlocked('low on disk');
  await nothingHappensFor(100);
  t.false(channel.closed, 'no confirm timeout while blocked: giving up would publish the batch twice');
  t.deepEqual(outbox.attemptFailures, []);

  flowControl.brokerUnblocked();
  held.resolve();
  await until(() => outbox.published.size === 1);
  t.is(channel.published.length, 1, 'published once');
  t.like(relay.stats, { published: 1, failedAttempts: 0 });
  await relay.stop();
});

test('OutboxRelay: a publish the write buffer cannot take → the flow control holds the next batches until the channel drains', async (t) => {
  const outbox = new FakeOutbox();
  const flowControl = new FlowControl();
  const channel = new FakeChannel();
  channel.publish = (exchange, routingKey, content, options) => {
    channel.published.push({ exchange, routingKey, body: JSON.parse(content.toString('utf8')), options });
    return false;
  };
  const relay = relayWith(outbox, { flowControl });
  await relay.setup(fakeConnection(channel));
  outbox.add(newEvent());
  relay.notify();
  await until(() => outbox.published.size === 1);
  t.true(flowControl.isBlocked);

  channel.emit('drain');
  t.false(flowControl.isBlocked);
  await relay.stop();
});

test('checkEvent → accepts an event of either exchange; refuses an unknown type, a payload failing its schema, and a payload whose id is not the row’s', (t) => {
  const occurredAt = '2026-01-01T00:00:00.000Z';
  for (const event of [
    { ...newTokenRevokedEvent({ requestId: 'req-1' }), occurred_at: occurredAt },
    { ...newProductUpdatedEvent({ requestId: 'req-1' }), occurred_at: occurredAt },
  ]) {
    t.deepEqual(checkEvent({ id: event.id, type: event.type, payload: event }), { ok: true, event });
    t.like(checkEvent({ id: event.id, type: 'auth.unknown', payload: event }), { ok: false });
    t.like(checkEvent({ id: event.id, type: 'product.unknown', payload: event }), { ok: false });
    // An inherited property name is no event type either.
    t.like(checkEvent({ id: event.id, type: 'constructor', payload: event }), { ok: false });
    t.like(checkEvent({ id: event.id, type: event.type, payload: { ...event, data: {} } }), { ok: false });
    const otherId = 'a1b2c3d4-0000-4000-8000-000000000000';
    const mismatch = checkEvent({ id: otherId, type: event.type, payload: event });
    t.like(mismatch, { ok: false });
    t.regex(mismatch.ok ? '' : mismatch.reason, /not the row id/);
  }
});
