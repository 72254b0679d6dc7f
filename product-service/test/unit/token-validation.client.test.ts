import test from 'ava';
import type { ChannelModel, Options } from 'amqplib';
import { EventEmitter } from 'node:events';

import { DIRECT_REPLY_TO_QUEUE, type ValidateTokenReply } from '@shop/shared-contracts';
import { createLogger, ServiceUnavailableError, UnauthorizedError } from '@shop/shared-runtime';

import { FlowControl } from '@shop/shared-runtime/messaging';

import { TokenValidationClient } from '../../src/messaging/token-validation.client';

type OnMessage = (
  message: { content: Buffer; properties: { correlationId?: unknown; userId?: unknown }; fields: object } | null,
) => void;

/** user-service's broker user in these tests: the only sender whose replies count. */
const RESPONDER = 'user-service';

/** The client's identities as a deployment sets them. */
const IDENTITIES = { userId: 'product-service', responderUserId: RESPONDER };

/** Just enough of an amqplib channel to drive the client: records what it is asked to do. */
class FakeChannel extends EventEmitter {
  readonly calls: string[] = [];
  readonly published: { queue: string; content: Buffer; options: Options.Publish }[] = [];
  consumer: OnMessage | undefined;
  consumeOptions: Options.Consume | undefined;
  failPublish = false;

  consume(queue: string, onMessage: OnMessage, options: Options.Consume) {
    this.calls.push(`consume ${queue}`);
    this.consumer = onMessage;
    this.consumeOptions = options;
    return Promise.resolve({ consumerTag: 'ctag' });
  }

  sendToQueue(queue: string, content: Buffer, options: Options.Publish): boolean {
    if (this.failPublish) throw new Error('Channel closed');
    this.calls.push(`publish ${queue}`);
    this.published.push({ queue, content, options });
    return true;
  }

  close() {
    this.emit('close');
    return Promise.resolve();
  }

  /** Delivers a reply as the broker would, from `userId` (user-service's broker user unless told). */
  reply(correlationId: unknown, body: ValidateTokenReply | string, userId: unknown = RESPONDER) {
    const content = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    this.consumer?.({ content, properties: { correlationId, userId }, fields: {} });
  }

  lastCorrelationId(): string {
    return String(this.published.at(-1)?.options.correlationId);
  }
}

class FakeModel extends EventEmitter {
  closes = 0;
  constructor(readonly channel: FakeChannel) {
    super();
  }
  createChannel() {
    return Promise.resolve(this.channel);
  }
  close() {
    this.closes += 1;
    return Promise.resolve();
  }
}

const logger = createLogger({ level: 'silent', service: 'product-service', version: 'test' });
const context = { requestId: 'req-1' };

async function connectedClient(options: { timeoutMs?: number; maxPending?: number; flowControl?: FlowControl } = {}) {
  const channel = new FakeChannel();
  const model = new FakeModel(channel);
  const client = new TokenValidationClient({
    queue: 'auth.q',
    timeoutMs: options.timeoutMs ?? 5000,
    ...(options.maxPending === undefined ? {} : { maxPending: options.maxPending }),
    ...IDENTITIES,
    logger,
    ...(options.flowControl ? { flowControl: options.flowControl } : {}),
  });
  await client.setup(model as unknown as ChannelModel);
  return { client, channel, model };
}

const valid: ValidateTokenReply = {
  valid: true,
  user_id: 3,
  username: 'carol',
  expires_at: '2030-01-01T00:00:00.000Z',
};

test('before setup → fails at once with 503, nothing buffered', async (t) => {
  const client = new TokenValidationClient({ queue: 'auth.q', timeoutMs: 5000, ...IDENTITIES, logger });

  await t.throwsAsync(client.validate('tok', context), { instanceOf: ServiceUnavailableError });
  t.is(client.pendingCount, 0);
  t.like(client.stats, { sent: 0, unavailable: 1 });
});

test('setup → consumes Direct Reply-to with noAck before anything is published', async (t) => {
  const { client, channel } = await connectedClient();

  const call = client.validate('tok', context);
  channel.reply(channel.lastCorrelationId(), valid);
  await call;

  t.deepEqual(channel.calls, [`consume ${DIRECT_REPLY_TO_QUEUE}`, 'publish auth.q']);
  t.like(channel.consumeOptions, { noAck: true });
  t.like(channel.published[0]?.options, {
    mandatory: true,
    replyTo: DIRECT_REPLY_TO_QUEUE,
    expiration: '5000',
    userId: 'product-service',
  });
});

test('a reply whose userId is not user-service’s broker user → dropped and counted; the call waits on for the real one', async (t) => {
  const dropped: string[] = [];
  const channel = new FakeChannel();
  const client = new TokenValidationClient({
    queue: 'auth.q',
    timeoutMs: 5000,
    ...IDENTITIES,
    logger,
    observer: {
      callSettled: () => undefined,
      replyDropped: () => undefined,
      replyFromStranger: () => dropped.push('x'),
    },
  });
  await client.setup(new FakeModel(channel) as unknown as ChannelModel);

  const call = client.validate('tok', context);
  channel.reply(channel.lastCorrelationId(), valid, 'product-service');
  channel.reply(channel.lastCorrelationId(), valid, '');
  const pendingAfterForgeries = client.pendingCount;
  channel.reply(channel.lastCorrelationId(), { valid: false, reason: 'revoked' });

  t.is(pendingAfterForgeries, 1, 'the forged `valid` replies settled nothing');
  await t.throwsAsync(call, { instanceOf: UnauthorizedError }, 'the genuine answer decides');
  t.like(client.stats, { unverifiedReplies: 2, lateOrUnknownReplies: 0 });
  t.is(dropped.length, 2);
});

test('valid reply → resolves with the user', async (t) => {
  const { client, channel } = await connectedClient();

  const call = client.validate('tok', context);
  channel.reply(channel.lastCorrelationId(), valid);

  t.deepEqual(await call, { userId: 3, username: 'carol', expiresAt: new Date('2030-01-01T00:00:00.000Z') });
  t.is(client.pendingCount, 0);
});

test('invalid reply → UnauthorizedError with the invalid_token challenge', async (t) => {
  const { client, channel } = await connectedClient();

  const call = client.validate('tok', context);
  channel.reply(channel.lastCorrelationId(), { valid: false, reason: 'expired' });

  const error = await t.throwsAsync(call, { instanceOf: UnauthorizedError });
  t.is(error.headers['WWW-Authenticate'], 'Bearer error="invalid_token"');
});

test('error reply and malformed replies → 503, counted, never a crash', async (t) => {
  const { client, channel } = await connectedClient();
  const bodies: (ValidateTokenReply | string)[] = [
    { error: { code: 'internal', message: 'db down' } },
    'not json',
    '{"valid":true}',
    '[]',
  ];

  for (const body of bodies) {
    const call = client.validate('tok', context);
    channel.reply(channel.lastCorrelationId(), body);
    await t.throwsAsync(call, { instanceOf: ServiceUnavailableError });
  }
  t.like(client.stats, { errorReplies: 1, malformedReplies: 3 });
  t.is(client.pendingCount, 0);
});

test('unknown, missing or duplicate correlationIds → dropped and counted', async (t) => {
  const { client, channel } = await connectedClient();

  const call = client.validate('tok', context);
  const correlationId = channel.lastCorrelationId();
  channel.reply('someone-else', valid);
  channel.reply(undefined, valid);
  channel.reply(correlationId, valid);
  channel.reply(correlationId, valid);
  await call;

  t.is(client.stats.lateOrUnknownReplies, 3);
});

test('no reply within timeoutMs → 503 and the call is forgotten', async (t) => {
  const { client } = await connectedClient({ timeoutMs: 30 });

  await t.throwsAsync(client.validate('tok', context), { instanceOf: ServiceUnavailableError });
  t.is(client.pendingCount, 0);
  t.is(client.stats.timeouts, 1);
});

test('a returned (unroutable) request → 503 at once', async (t) => {
  const { client, channel } = await connectedClient();

  const call = client.validate('tok', context);
  channel.emit('return', {
    properties: { correlationId: channel.lastCorrelationId() },
    fields: { replyText: 'NO_ROUTE' },
  });

  await t.throwsAsync(call, { instanceOf: ServiceUnavailableError });
  t.is(client.pendingCount, 0);
});

test('channel closes → every pending call fails at once, later calls too, and the connection is recycled', async (t) => {
  const { client, channel, model } = await connectedClient();
  const calls = [client.validate('a', context), client.validate('b', context)];

  channel.emit('close');

  for (const call of calls) await t.throwsAsync(call, { instanceOf: ServiceUnavailableError });
  await t.throwsAsync(client.validate('c', context), { instanceOf: ServiceUnavailableError });
  t.false(client.isReady);
  t.is(model.closes, 1);
});

test('publish throws (channel gone) → 503, nothing left pending', async (t) => {
  const { client, channel } = await connectedClient();
  channel.failPublish = true;

  await t.throwsAsync(client.validate('tok', context), { instanceOf: ServiceUnavailableError });
  t.is(client.pendingCount, 0);
});

test('more than maxPending waiting → the extra call fails at once', async (t) => {
  const { client, channel } = await connectedClient({ maxPending: 1 });
  const first = client.validate('a', context);

  await t.throwsAsync(client.validate('b', context), { instanceOf: ServiceUnavailableError });
  channel.reply(channel.lastCorrelationId(), valid);
  await first;
  t.is(channel.published.length, 1);
});

test('close() → pending calls fail with 503 and the connection is not recycled', async (t) => {
  const { client, model } = await connectedClient();
  const call = client.validate('a', context);

  await client.close();

  await t.throwsAsync(call, { instanceOf: ServiceUnavailableError });
  t.is(model.closes, 0);
  await t.throwsAsync(client.validate('b', context), { instanceOf: ServiceUnavailableError });
});

/** A connection that opens a new fake channel each time, as amqplib does. */
class ChannelFactoryModel extends EventEmitter {
  readonly channels: FakeChannel[] = [];
  closes = 0;
  createChannel() {
    const channel = new FakeChannel();
    this.channels.push(channel);
    return Promise.resolve(channel);
  }
  close() {
    this.closes += 1;
    return Promise.resolve();
  }
}

test('5 timeouts in a row with nothing coming back → the next requests go out on a new channel of the same connection', async (t) => {
  const model = new ChannelFactoryModel();
  const client = new TokenValidationClient({
    queue: 'auth.q',
    timeoutMs: 20,
    logger,
    ...IDENTITIES,
  });
  await client.setup(model as unknown as ChannelModel);
  const [first] = model.channels;

  for (let index = 0; index < 4; index += 1) {
    await t.throwsAsync(client.validate('tok', context), { instanceOf: ServiceUnavailableError });
  }
  t.is(model.channels.length, 1, 'four silent timeouts: still the same channel');
  await t.throwsAsync(client.validate('tok', context), { instanceOf: ServiceUnavailableError });
  await waitForChannels(model, 2);

  const second = model.channels[1];
  const call = client.validate('tok', context);
  second?.reply(second.lastCorrelationId(), valid);
  t.like(await call, { userId: 3 });
  t.is(first?.published.length, 5);
  t.is(second?.published.length, 1);
  t.is(model.closes, 0, 'the connection stays (the validation cache is not flushed)');
});

test('a reply between timeouts → the channel is kept', async (t) => {
  const model = new ChannelFactoryModel();
  const client = new TokenValidationClient({
    queue: 'auth.q',
    timeoutMs: 20,
    logger,
    ...IDENTITIES,
  });
  await client.setup(model as unknown as ChannelModel);
  const [channel] = model.channels;

  for (let round = 0; round < 2; round += 1) {
    for (let index = 0; index < 4; index += 1) {
      await t.throwsAsync(client.validate('tok', context), { instanceOf: ServiceUnavailableError });
    }
    const call = client.validate('tok', context);
    channel?.reply(channel.lastCorrelationId(), valid);
    await call;
  }
  t.is(model.channels.length, 1);
});

async function waitForChannels(model: ChannelFactoryModel, count: number): Promise<void> {
  for (let attempt = 0; attempt < 100 && model.channels.length < count; attempt += 1) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('broker blocked → fails at once with 503 naming the reason, nothing published; unblocked → calls go out again', async (t) => {
  const flowControl = new FlowControl();
  const { client, channel } = await connectedClient({ flowControl });

  flowControl.brokerBlocked('low on memory');
  const error = await t.throwsAsync(client.validate('tok', context), { instanceOf: ServiceUnavailableError });
  t.regex(error.detail, /low on memory/);
  t.is(error.headers['Retry-After'], '5');
  t.is(channel.published.length, 0);
  t.like(client.stats, { blocked: 1, sent: 0 });

  flowControl.brokerUnblocked();
  const call = client.validate('tok', context);
  channel.reply(channel.lastCorrelationId(), valid);
  t.like(await call, { userId: 3 });
});

test('broker blocks while calls wait → they fail at once instead of at their timeout', async (t) => {
  const flowControl = new FlowControl();
  const { client } = await connectedClient({ flowControl, timeoutMs: 60_000 });

  const waiting = client.validate('tok', context);
  t.is(client.pendingCount, 1);
  flowControl.brokerBlocked('low on disk');

  await t.throwsAsync(waiting, { instanceOf: ServiceUnavailableError, message: /low on disk/ });
  t.is(client.pendingCount, 0);
});

test('a publish the write buffer could not take → later calls fail at once until the channel drains', async (t) => {
  const flowControl = new FlowControl();
  const { client, channel } = await connectedClient({ flowControl });
  channel.sendToQueue = (queue, content, options) => {
    channel.published.push({ queue, content, options });
    return false;
  };

  const first = client.validate('tok', context);
  t.true(flowControl.isBlocked);
  await t.throwsAsync(client.validate('tok', context), { instanceOf: ServiceUnavailableError });
  t.is(channel.published.length, 1);

  // The buffered request still goes out and its answer still counts.
  channel.reply(channel.lastCorrelationId(), valid);
  t.like(await first, { userId: 3 });
  channel.emit('drain');
  t.false(flowControl.isBlocked);
});
