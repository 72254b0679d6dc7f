import test from 'ava';
import type { ChannelModel, Options } from 'amqplib';
import { EventEmitter } from 'node:events';

import { EVENT_TYPES, type AuthEvent } from '@shop/shared-contracts';
import { tokenRevokedEvent, userDeactivatedEvent, waitUntil } from '@shop/test-harness';

import { createLogger } from '../../src';
import { AuthEventsSubscriber, type AuthEventsCache } from '../../src/messaging';
import { withCapturedTimers } from '../helpers/timers';

interface Delivery {
  content: Buffer;
  fields: { routingKey: string; deliveryTag: number };
  properties: { messageId?: string; userId?: string | undefined };
}

type OnMessage = (message: Delivery | null) => void;

/** Just enough of an amqplib channel to drive the subscriber: records what it is asked to do. */
class FakeChannel extends EventEmitter {
  readonly calls: string[];
  readonly acked: number[] = [];
  consumer: OnMessage | undefined;
  consumeOptions: Options.Consume | undefined;
  private deliveries = 0;

  /** Exchanges that exist for a passive check; a check of another fails with 404 and closes the channel. */
  private readonly existing: ReadonlySet<string>;

  constructor(calls: string[], existing: ReadonlySet<string> = new Set(['auth.x'])) {
    super();
    this.calls = calls;
    this.existing = existing;
  }

  checkExchange(exchange: string) {
    this.calls.push(`checkExchange ${exchange}`);
    if (this.existing.has(exchange)) return Promise.resolve({});
    this.emit('close');
    return Promise.reject(Object.assign(new Error(`NOT_FOUND - no exchange '${exchange}'`), { code: 404 }));
  }

  assertExchange(exchange: string, type: string, options: Options.AssertExchange) {
    this.calls.push(`assertExchange ${exchange} ${type} durable=${String(options.durable)}`);
    return Promise.resolve({ exchange });
  }

  assertQueue(queue: string, options: Options.AssertQueue) {
    this.calls.push(
      `assertQueue ${queue} exclusive=${String(options.exclusive)} autoDelete=${String(options.autoDelete)} durable=${String(options.durable)}`,
    );
    return Promise.resolve({ queue, messageCount: 0, consumerCount: 0 });
  }

  bindQueue(queue: string, exchange: string, routingKey: string) {
    this.calls.push(`bindQueue ${queue} ${exchange} ${routingKey}`);
    return Promise.resolve({});
  }

  prefetch(count: number) {
    this.calls.push(`prefetch ${count}`);
    return Promise.resolve();
  }

  consume(queue: string, onMessage: OnMessage, options: Options.Consume) {
    this.calls.push(`consume ${queue}`);
    this.consumer = onMessage;
    this.consumeOptions = options;
    return Promise.resolve({ consumerTag: 'ctag' });
  }

  ack(message: Delivery) {
    this.calls.push(`ack ${message.fields.deliveryTag}`);
    this.acked.push(message.fields.deliveryTag);
  }

  close() {
    this.calls.push('channel.close');
    this.emit('close');
    return Promise.resolve();
  }

  /** Delivers a message as the broker would; returns its delivery tag. */
  deliver(body: unknown, routingKey: string = EVENT_TYPES.tokenRevoked, userId: string | undefined = SENDER): number {
    this.deliveries += 1;
    const content = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    this.consumer?.({ content, fields: { routingKey, deliveryTag: this.deliveries }, properties: { userId } });
    return this.deliveries;
  }
}

/** A live connection: hands out a new channel per createChannel, unless told to fail. */
class FakeModel extends EventEmitter {
  readonly calls: string[] = [];
  readonly channels: FakeChannel[] = [];
  /** Errors the next createChannel calls fail with, in order. */
  readonly createFailures: Error[] = [];
  createAttempts = 0;
  closes = 0;
  /** The exchanges that exist on this broker. */
  readonly exchanges = new Set(['auth.x']);

  /** The channel opened last. */
  get channel(): FakeChannel {
    const channel = this.channels.at(-1);
    if (!channel) throw new Error('no channel opened yet');
    return channel;
  }

  createChannel() {
    this.createAttempts += 1;
    const failure = this.createFailures.shift();
    if (failure) return Promise.reject(failure);
    const channel = new FakeChannel(this.calls, this.exchanges);
    this.channels.push(channel);
    return Promise.resolve(channel);
  }

  close() {
    this.closes += 1;
    return Promise.resolve();
  }
}

/** A service's cache as the subscriber sees it: records the events handed to it, in the model's call log. */
class FakeCache implements AuthEventsCache {
  readonly name = 'fake cache';
  readonly evicted: AuthEvent[] = [];

  constructor(private readonly calls: string[]) {}

  /** Removes 1 entry for a revoked token, 2 for a deactivated user: what the counters must add up. */
  evict(event: AuthEvent): number {
    this.calls.push(`evict ${event.type} ${event.id}`);
    this.evicted.push(event);
    return event.type === EVENT_TYPES.tokenRevoked ? 1 : 2;
  }

  flush(): number {
    this.calls.push('flush');
    return 0;
  }
}

const logger = createLogger({ level: 'silent', service: 'test-service', version: 'test' });

/** user-service's broker user in these tests: the only sender whose auth events count. */
const SENDER = 'user-service';

/** The subscriber as user-service runs it: it owns (declares) the exchange. */
const OWNER = { exchange: 'auth.x', queue: 'auth.q', ownsExchange: true, expectedSender: SENDER };

/** What setup (and every reopen) asks of a fresh channel, in order, ending with the cache's flush. */
const CONSUME_SEQUENCE = [
  'assertExchange auth.x topic durable=true',
  'assertQueue auth.q exclusive=true autoDelete=true durable=false',
  'bindQueue auth.q auth.x auth.token_revoked',
  'bindQueue auth.q auth.x user.deactivated',
  'prefetch 100',
  'consume auth.q',
  'flush',
];

async function connectedSubscriber() {
  const model = new FakeModel();
  const cache = new FakeCache(model.calls);
  const subscriber = new AuthEventsSubscriber({ ...OWNER, cache, logger });
  await subscriber.setup(model as unknown as ChannelModel);
  return { subscriber, model, channel: model.channel, cache };
}

const until = (condition: () => boolean) => waitUntil(condition, 'the subscriber', { intervalMs: 5 });

test('AuthEventsSubscriber.setup → declares, binds both event types, consumes with manual ack, and only then flushes the cache', async (t) => {
  const { subscriber, model, channel } = await connectedSubscriber();

  t.deepEqual(model.calls, CONSUME_SEQUENCE);
  t.like(channel.consumeOptions, { noAck: false });
  t.true(subscriber.isConsuming);
  t.like(subscriber.stats, { flushes: 1 });
});

test('AuthEventsSubscriber: an auth event → handed to the cache’s evict, then acked; evictions count what the cache removed', async (t) => {
  const { subscriber, channel, model, cache } = await connectedSubscriber();
  model.calls.length = 0;
  const revoked = tokenRevokedEvent(41, '0b6f1e2a-4c3d-4e5f-8a9b-1c2d3e4f5a6b');
  const deactivated = userDeactivatedEvent(42);

  channel.deliver(revoked);
  channel.deliver(deactivated, EVENT_TYPES.userDeactivated);

  t.deepEqual(model.calls, [
    `evict auth.token_revoked ${revoked.id}`,
    'ack 1',
    `evict user.deactivated ${deactivated.id}`,
    'ack 2',
  ]);
  t.deepEqual(cache.evicted, [revoked, deactivated], 'the events as published, for the cache to map');
  t.like(subscriber.stats, { received: 2, applied: 2, evictions: 3, duplicates: 0, malformed: 0 });
});

test('AuthEventsSubscriber: the same event id twice → the second is acked and counted as a duplicate, nothing evicted', async (t) => {
  const { subscriber, channel, cache } = await connectedSubscriber();
  const event = tokenRevokedEvent(41);

  channel.deliver(event);
  const duplicate = channel.deliver(event);

  t.deepEqual(
    cache.evicted.map((evicted) => evicted.id),
    [event.id],
  );
  t.true(channel.acked.includes(duplicate));
  t.like(subscriber.stats, { received: 2, applied: 1, duplicates: 1 });
});

test('AuthEventsSubscriber: malformed messages → acked, counted, nothing evicted, still consuming', async (t) => {
  const { subscriber, channel, cache, model } = await connectedSubscriber();
  const bodies: unknown[] = [
    'not json',
    '[]',
    { ...tokenRevokedEvent(41), data: { user_id: 41 } },
    { ...tokenRevokedEvent(41), data: { user_id: 41, jti: '', exp: 1 } },
    { ...userDeactivatedEvent(41), version: 2 },
    { ...userDeactivatedEvent(41), id: 'not-a-uuid' },
    { ...tokenRevokedEvent(41), type: 'product.created' },
  ];

  const tags = bodies.map((body) => channel.deliver(body));

  t.deepEqual(cache.evicted, []);
  t.deepEqual(channel.acked, tags);
  t.like(subscriber.stats, { received: 0, malformed: bodies.length });
  t.true(subscriber.isConsuming);
  t.is(model.closes, 0);
});

test('AuthEventsSubscriber: its channel closes while the connection lives → reopens a channel after the first delay, never closes the connection, and flushes the cache once consuming again', async (t) => {
  const { subscriber, channel, model } = await connectedSubscriber();
  model.calls.length = 0;
  const closedAt = performance.now();

  channel.emit('close');

  t.false(subscriber.isConsuming);
  t.like(await subscriber.healthCheck().check(), { status: 'down' });
  t.is(model.channels.length, 1, 'not reopened at once');
  await until(() => subscriber.isConsuming);
  // The first delay is 200 ms; timers may fire a millisecond early.
  t.true(performance.now() - closedAt >= 195, 'reopened after the first delay');
  t.is(model.channels.length, 2);
  t.deepEqual(model.calls, CONSUME_SEQUENCE, 'declared and consumed again, then flushed');
  t.like(subscriber.stats, { flushes: 2 });
  // The connection, and whatever else runs on it (the token-validation RPC), is left alone.
  t.is(model.closes, 0);
  t.like(await subscriber.healthCheck().check(), { status: 'up' });
  const event = tokenRevokedEvent(41);
  model.channel.deliver(event);
  t.like(subscriber.stats, { applied: 1 }, 'events arrive on the reopened channel');
});

test('AuthEventsSubscriber: the broker cancels the consumer → that channel is closed and a new one reopened; the connection stays open and the cache is flushed again', async (t) => {
  const { subscriber, channel, model } = await connectedSubscriber();

  channel.consumer?.(null);

  t.true(model.calls.includes('channel.close'));
  t.false(subscriber.isConsuming);
  await until(() => subscriber.isConsuming);
  t.is(model.channels.length, 2);
  t.is(model.closes, 0);
  t.like(subscriber.stats, { flushes: 2 });
});

test('AuthEventsSubscriber: a reopen that fails → tried again after twice the delay, until a channel opens', async (t) => {
  const { subscriber, channel, model } = await connectedSubscriber();
  model.createFailures.push(new Error('NOT_FOUND - no exchange'));
  const closedAt = performance.now();

  channel.emit('close');

  await until(() => subscriber.isConsuming);
  // 200 ms before the failed try, 400 ms before the next one.
  t.true(performance.now() - closedAt >= 590, 'the second try waited twice as long');
  t.is(model.createAttempts, 3, 'setup, the failed try, the one that opened');
  t.is(model.closes, 0);
  t.like(subscriber.stats, { flushes: 2 });
});

test('AuthEventsSubscriber: the connection is lost → no channel is reopened on it; the next setup consumes and flushes', async (t) => {
  const { subscriber, channel, model } = await connectedSubscriber();

  // As amqplib does: the connection closes, and its channels with it. Every reopen the
  // subscriber schedules is fired at once, by hand, instead of waiting for it.
  let scheduled = 0;
  withCapturedTimers((timers) => {
    model.emit('close');
    channel.emit('close');
    scheduled = timers.length;
    for (const timer of timers) timer.fire();
  });

  t.is(scheduled, 1, 'a reopen was scheduled, and did nothing when it fired');
  t.is(model.createAttempts, 1, 'left to the connection’s recovery');
  t.false(subscriber.isConsuming);
  const recovered = new FakeModel();
  await subscriber.setup(recovered as unknown as ChannelModel);
  t.true(subscriber.isConsuming);
  t.like(subscriber.stats, { flushes: 2 });
});

test('AuthEventsSubscriber.close → stops consuming without recycling the connection, and no channel is reopened', async (t) => {
  const { subscriber, model } = await connectedSubscriber();

  // Any reopen it schedules is fired at once, by hand, instead of waiting for it.
  let closing: Promise<void> = Promise.resolve();
  withCapturedTimers((timers) => {
    closing = subscriber.close();
    for (const timer of timers) timer.fire();
  });
  await closing;

  t.false(subscriber.isConsuming);
  t.is(model.closes, 0);
  t.is(model.createAttempts, 1);
  t.like(await subscriber.healthCheck().check(), { status: 'down' });
});

test('AuthEventsSubscriber.close while a reopen waits → the channel is never reopened', async (t) => {
  const { subscriber, channel, model } = await connectedSubscriber();
  let scheduled = 0;
  let closing: Promise<void> = Promise.resolve();

  // The reopen scheduled by the close is fired by hand once close() has run, instead of waiting for it.
  withCapturedTimers((timers) => {
    channel.emit('close');
    scheduled = timers.length;
    closing = subscriber.close();
    for (const timer of timers) timer.fire();
  });
  await closing;

  t.is(scheduled, 1, 'a reopen was waiting');
  t.is(model.createAttempts, 1);
  t.false(subscriber.isConsuming);
});

test('AuthEventsSubscriber.healthCheck → up while consuming, down before setup', async (t) => {
  const idle = new AuthEventsSubscriber({ ...OWNER, cache: new FakeCache([]), logger });
  const { subscriber } = await connectedSubscriber();

  t.like(await idle.healthCheck().check(), { status: 'down', exchange: 'auth.x' });
  t.like(await subscriber.healthCheck().check(), { status: 'up', exchange: 'auth.x' });
});

test('AuthEventsSubscriber → the observer is told of every event received by type, duplicates and malformed messages', async (t) => {
  const seen: string[] = [];
  const model = new FakeModel();
  const subscriber = new AuthEventsSubscriber({
    ...OWNER,
    cache: new FakeCache(model.calls),
    logger,
    observer: {
      received: (type) => seen.push(`received ${type}`),
      duplicate: () => seen.push('duplicate'),
      malformed: () => seen.push('malformed'),
      unverifiedSender: () => seen.push('unverified sender'),
    },
  });
  await subscriber.setup(model as unknown as ChannelModel);
  const event = userDeactivatedEvent(42);

  model.channel.deliver(event, EVENT_TYPES.userDeactivated);
  model.channel.deliver(event, EVENT_TYPES.userDeactivated);
  model.channel.deliver('{}');
  model.channel.deliver(event, EVENT_TYPES.userDeactivated, 'product-service');

  t.deepEqual(seen, [
    'received user.deactivated',
    'received user.deactivated',
    'duplicate',
    'malformed',
    'unverified sender',
  ]);
});

test('AuthEventsSubscriber: an auth event whose userId is not user-service’s broker user → acked, counted, nothing evicted', async (t) => {
  const { subscriber, channel, cache } = await connectedSubscriber();
  const event = tokenRevokedEvent(41);

  const forged = channel.deliver(event, EVENT_TYPES.tokenRevoked, 'product-service');
  const anonymous = channel.deliver(tokenRevokedEvent(42), EVENT_TYPES.tokenRevoked, '');
  channel.deliver(event);

  t.deepEqual(channel.acked, [forged, anonymous, 3]);
  t.deepEqual(
    cache.evicted.map((evicted) => evicted.id),
    [event.id],
    'the genuine event (same id as the forgery) is applied, not taken for a duplicate',
  );
  t.like(subscriber.stats, { unverifiedSenders: 2, received: 1, applied: 1, duplicates: 0 });
});

test('AuthEventsSubscriber (not the owner) → checks the exchange on a channel of its own instead of declaring it', async (t) => {
  const model = new FakeModel();
  const subscriber = new AuthEventsSubscriber({
    ...OWNER,
    ownsExchange: false,
    cache: new FakeCache(model.calls),
    logger,
  });

  await subscriber.setup(model as unknown as ChannelModel);

  t.deepEqual(model.calls, ['checkExchange auth.x', 'channel.close', ...CONSUME_SEQUENCE.slice(1)]);
  t.is(model.channels.length, 2, 'the passive check ran on a channel of its own');
  t.true(subscriber.isConsuming);
});

test('AuthEventsSubscriber (not the owner) → while the exchange is missing: setup succeeds, health says whose it is, and it consumes once the owner declares it', async (t) => {
  const model = new FakeModel();
  model.exchanges.delete('auth.x');
  const subscriber = new AuthEventsSubscriber({
    ...OWNER,
    ownsExchange: false,
    cache: new FakeCache(model.calls),
    logger,
  });

  await subscriber.setup(model as unknown as ChannelModel);
  const waiting = await subscriber.healthCheck().check();
  model.exchanges.add('auth.x');
  await until(() => subscriber.isConsuming);

  t.like(waiting, { status: 'down', exchange: 'auth.x' });
  t.regex(String(waiting.error), /does not exist yet.*user-service/);
  t.is(model.closes, 0, 'the connection (and the RPC on it) stays up meanwhile');
  t.like(await subscriber.healthCheck().check(), { status: 'up' });
  t.like(subscriber.stats, { flushes: 1 });
});
