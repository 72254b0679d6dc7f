import test from 'ava';
import type { ChannelModel, Options } from 'amqplib';
import { EventEmitter } from 'node:events';

import { EVENT_TYPES } from '@shop/shared-contracts';
import { createLogger } from '@shop/shared-runtime';
import { AuthEventsSubscriber } from '@shop/shared-runtime/messaging';

import { tokenRevokedEvent, userDeactivatedEvent } from '../helpers/auth-events';

interface Delivery {
  content: Buffer;
  fields: { routingKey: string; deliveryTag: number };
  properties: { messageId?: string };
}

type OnMessage = (message: Delivery | null) => void;

/** Just enough of an amqplib channel to drive the subscriber: records what it is asked to do. */
class FakeChannel extends EventEmitter {
  readonly calls: string[];
  readonly acked: number[] = [];
  consumer: OnMessage | undefined;
  consumeOptions: Options.Consume | undefined;
  private deliveries = 0;

  constructor(calls: string[]) {
    super();
    this.calls = calls;
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
  deliver(body: unknown, routingKey: string = EVENT_TYPES.tokenRevoked): number {
    this.deliveries += 1;
    const content = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    this.consumer?.({ content, fields: { routingKey, deliveryTag: this.deliveries }, properties: {} });
    return this.deliveries;
  }
}

class FakeModel extends EventEmitter {
  readonly calls: string[] = [];
  readonly channel = new FakeChannel(this.calls);
  closes = 0;

  createChannel() {
    return Promise.resolve(this.channel);
  }

  close() {
    this.closes += 1;
    return Promise.resolve();
  }
}

/** Records what the subscriber asks of the cache, in the model's call log. */
class FakeCache {
  readonly evictedUsers: number[] = [];

  constructor(
    private readonly calls: string[],
    private readonly entriesPerUser = 1,
  ) {}

  evictUser(userId: number): number {
    this.calls.push(`evictUser ${userId}`);
    this.evictedUsers.push(userId);
    return this.entriesPerUser;
  }

  flush(): number {
    this.calls.push('flush');
    return 0;
  }
}

const logger = createLogger({ level: 'silent', service: 'product-service', version: 'test' });

async function connectedSubscriber() {
  const model = new FakeModel();
  const cache = new FakeCache(model.calls);
  const subscriber = new AuthEventsSubscriber({ exchange: 'auth.x', queue: 'auth.q', cache, logger });
  await subscriber.setup(model as unknown as ChannelModel);
  return { subscriber, model, channel: model.channel, cache };
}

test('setup → declares, binds both event types, consumes with manual ack, and only then flushes the cache', async (t) => {
  const { subscriber, model, channel } = await connectedSubscriber();

  t.deepEqual(model.calls, [
    'assertExchange auth.x topic durable=true',
    'assertQueue auth.q exclusive=true autoDelete=true durable=false',
    'bindQueue auth.q auth.x auth.token_revoked',
    'bindQueue auth.q auth.x user.deactivated',
    'prefetch 100',
    'consume auth.q',
    'flush',
  ]);
  t.like(channel.consumeOptions, { noAck: false });
  t.true(subscriber.isConsuming);
  t.like(subscriber.stats, { flushes: 1 });
});

test('token_revoked and user.deactivated → evict the user, then ack', async (t) => {
  const { subscriber, channel, model } = await connectedSubscriber();
  model.calls.length = 0;

  channel.deliver(tokenRevokedEvent(41));
  channel.deliver(userDeactivatedEvent(42), EVENT_TYPES.userDeactivated);

  t.deepEqual(model.calls, ['evictUser 41', 'ack 1', 'evictUser 42', 'ack 2']);
  t.like(subscriber.stats, { received: 2, applied: 2, evictions: 2, duplicates: 0, malformed: 0 });
});

test('the same event id twice → the second is acked and counted as a duplicate, nothing evicted', async (t) => {
  const { subscriber, channel, cache } = await connectedSubscriber();
  const event = tokenRevokedEvent(41);

  channel.deliver(event);
  const duplicate = channel.deliver(event);

  t.deepEqual(cache.evictedUsers, [41]);
  t.true(channel.acked.includes(duplicate));
  t.like(subscriber.stats, { received: 2, applied: 1, duplicates: 1 });
});

test('malformed messages → acked, counted, nothing evicted, still consuming', async (t) => {
  const { subscriber, channel, cache, model } = await connectedSubscriber();
  const bodies: unknown[] = [
    'not json',
    '[]',
    { ...tokenRevokedEvent(41), data: { user_id: 41 } },
    { ...userDeactivatedEvent(41), version: 2 },
    { ...userDeactivatedEvent(41), id: 'not-a-uuid' },
    { ...tokenRevokedEvent(41), type: 'product.created' },
  ];

  const tags = bodies.map((body) => channel.deliver(body));

  t.deepEqual(cache.evictedUsers, []);
  t.deepEqual(channel.acked, tags);
  t.like(subscriber.stats, { received: 0, malformed: bodies.length });
  t.true(subscriber.isConsuming);
  t.is(model.closes, 0);
});

test('the channel closes while connected → the connection is closed so that recovery runs setup again', async (t) => {
  const { subscriber, channel, model } = await connectedSubscriber();

  channel.emit('close');

  t.false(subscriber.isConsuming);
  t.is(model.closes, 1);
});

test('the broker cancels the consumer → the channel is closed, and with it the connection', async (t) => {
  const { subscriber, channel, model } = await connectedSubscriber();

  channel.consumer?.(null);

  t.true(model.calls.includes('channel.close'));
  t.false(subscriber.isConsuming);
  t.is(model.closes, 1);
});

test('close() → stops consuming without recycling the connection', async (t) => {
  const { subscriber, model } = await connectedSubscriber();

  await subscriber.close();

  t.false(subscriber.isConsuming);
  t.is(model.closes, 0);
  t.like(await subscriber.healthCheck().check(), { status: 'down' });
});

test('health → up while consuming, down before setup', async (t) => {
  const idle = new AuthEventsSubscriber({ exchange: 'auth.x', queue: 'auth.q', cache: new FakeCache([]), logger });
  const { subscriber } = await connectedSubscriber();

  t.like(await idle.healthCheck().check(), { status: 'down', exchange: 'auth.x' });
  t.like(await subscriber.healthCheck().check(), { status: 'up', exchange: 'auth.x' });
});
