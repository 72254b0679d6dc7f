import test, { type ExecutionContext } from 'ava';
import { connect, type RecoveringChannelModel } from 'amqplib';

import { JSON_CONTENT_TYPE, type AuthEvent } from '@shop/shared-contracts';

import { tokenRevokedEvent } from '@shop/test-harness';

import { brokerUserOf, createLogger } from '../../src';
import { AuthEventsSubscriber, connectToBroker, type AuthEventsCache } from '../../src/messaging';
import { useTestEnvironment } from '../helpers/environment';

const ctx = useTestEnvironment();

const logger = createLogger({ level: 'silent', service: 'test-service', version: 'test' });

/** A service's cache as the subscriber sees it: records what it is asked to do. */
class RecordingCache implements AuthEventsCache {
  readonly name = 'recording cache';
  readonly evicted: string[] = [];
  flushes = 0;

  evict(event: AuthEvent): number {
    this.evicted.push(event.id);
    return 1;
  }

  flush(): number {
    this.flushes += 1;
    return 0;
  }
}

let subscribers = 0;

/** A subscriber on a broker connection of its own, consuming a queue and an exchange of this run. */
async function startSubscriber(label: string) {
  subscribers += 1;
  const exchange = ctx.env.exchangeName(`auth.events.${label}`);
  const queue = ctx.env.queueName(`auth-events.${label}`);
  const cache = new RecordingCache();
  // The test's own login publishes the events here, so it stands for user-service's identity.
  const subscriber = new AuthEventsSubscriber({
    exchange,
    queue,
    ownsExchange: true,
    expectedSender: brokerUserOf(ctx.env.amqpUrl),
    cache,
    logger,
  });
  let connects = 0;
  const broker: RecoveringChannelModel = await connectToBroker({
    urls: [ctx.env.amqpUrl],
    connectionName: `shared-runtime.test.${ctx.env.runId}.subscriber${subscribers}`,
    setup: subscriber.setup,
    logger,
  });
  broker.on('connect', () => {
    connects += 1;
  });
  ctx.closeLater(async () => {
    await subscriber.close();
    await broker.close();
  });
  await broker.waitForConnect();
  await until(() => subscriber.isConsuming, 'the subscriber to consume');
  return { subscriber, broker, cache, exchange, queue, connects: () => connects };
}

/** Publishes `event` on `exchange` as user-service's relay does. */
async function publish(t: ExecutionContext, exchange: string, event: AuthEvent): Promise<void> {
  const connection = await connect(ctx.env.amqpUrl);
  t.teardown(() => connection.close());
  const channel = await connection.createConfirmChannel();
  channel.publish(exchange, event.type, Buffer.from(JSON.stringify(event)), {
    userId: brokerUserOf(ctx.env.amqpUrl),
    messageId: event.id,
    type: event.type,
    contentType: JSON_CONTENT_TYPE,
  });
  await channel.waitForConfirms();
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('AuthEventsSubscriber: an event published on the exchange → handed to the cache once consuming', async (t) => {
  const { cache, exchange } = await startSubscriber('apply');
  const event = tokenRevokedEvent(41);

  await publish(t, exchange, event);

  await until(() => cache.evicted.length === 1, 'the event to reach the cache');
  t.deepEqual(cache.evicted, [event.id]);
  t.is(cache.flushes, 1, 'flushed once, when it began consuming');
});

test('AuthEventsSubscriber: its queue deleted under a live connection → reopens its own channel and consumes again, flushing the cache; the connection and its other channels stay up', async (t) => {
  const { subscriber, broker, cache, exchange, queue, connects } = await startSubscriber('reopen');
  // Another user of the same connection, as the token-validation RPC is.
  const neighbour = await broker.createChannel();
  let neighbourClosed = false;
  neighbour.on('close', () => {
    neighbourClosed = true;
  });
  const connectsBefore = connects();

  // The queue is exclusive to the subscriber's connection: only a channel on it may delete it.
  const admin = await broker.createChannel();
  await admin.deleteQueue(queue);
  await admin.close();

  await until(() => cache.flushes === 2, 'the reopened channel and its flush');
  t.true(subscriber.isConsuming);
  t.like(subscriber.stats, { flushes: 2 });
  t.is(connects(), connectsBefore, 'no reconnect: the connection was never closed');
  t.false(neighbourClosed, 'the other channels of the connection are untouched');
  await t.notThrowsAsync(neighbour.checkExchange(exchange));
  const event = tokenRevokedEvent(42);
  await publish(t, exchange, event);
  await until(() => cache.evicted.includes(event.id), 'an event on the re-declared queue');
  t.true(subscriber.isConsuming);
});
