import test from 'ava';
import { connect, type ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';

import { DIRECT_REPLY_TO_QUEUE, MESSAGE_TYPES, type ValidTokenReply } from '@shop/shared-contracts';
import { TestEnvironment } from '@shop/test-harness';

import {
  CHAOS_RPC_TIMEOUT_MS,
  assertNothingLostOrDoubled,
  eventually,
  sleep,
  startChaosSystem,
  startWriteStream,
  type ChaosSystem,
} from '../../src';

let env: TestEnvironment | undefined;
let system: ChaosSystem | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
  system = await startChaosSystem(env);
});

test.after.always(async () => {
  await system?.stop();
  await env?.close();
});

function context(): { env: TestEnvironment; system: ChaosSystem } {
  if (!env || !system) throw new Error('the chaos system has not started');
  return { env, system };
}

test.serial('poison RPC requests → each answered or dropped once, the queue drains, valid traffic flows', async (t) => {
  const { env: environment, system: chaos } = context();
  const connection = await connect(environment.amqpUrl);
  t.teardown(() => connection.close());
  const channel = await connection.createChannel();
  const replies: ConsumeMessage[] = [];
  await channel.consume(DIRECT_REPLY_TO_QUEUE, (message) => message && replies.push(message), { noAck: true });
  const stream = startWriteStream(chaos, 'poison');
  await sleep(500);

  const withReplyTo = { replyTo: DIRECT_REPLY_TO_QUEUE, type: MESSAGE_TYPES.validateTokenRequest };
  const poisons: [string, Buffer, object][] = [
    ['non-JSON', Buffer.from('not json at all'), { ...withReplyTo, correlationId: 'poison-non-json' }],
    ['wrong types', Buffer.from('{"token": 42}'), { ...withReplyTo, correlationId: 'poison-types' }],
    [
      '1 MB body',
      Buffer.from(JSON.stringify({ token: 'x'.repeat(1024 * 1024) })),
      { ...withReplyTo, correlationId: 'poison-1mb' },
    ],
    ['no replyTo', Buffer.from('{"token": "a.b.c"}'), { correlationId: 'poison-no-reply-to' }],
    ['no correlationId', Buffer.from('{"token": "a.b.c"}'), withReplyTo],
  ];
  for (let round = 0; round < 20; round += 1) {
    for (const [, body, properties] of poisons) channel.sendToQueue(chaos.queue, body, properties);
  }

  await eventually(async () => (await channel.checkQueue(chaos.queue)).messageCount === 0, 10_000, 'the queue drained');
  await sleep(500);
  const outcomes = await stream.stop();

  const byCorrelation = (id: string | undefined) => replies.filter((reply) => reply.properties.correlationId === id);
  for (const id of ['poison-non-json', 'poison-types', 'poison-1mb']) {
    t.is(byCorrelation(id).length, 20, `${id}: one reply per request`);
    t.like(JSON.parse(byCorrelation(id)[0]!.content.toString()), { error: { code: 'bad_request' } });
  }
  t.is(byCorrelation('poison-no-reply-to').length, 0, 'nowhere to reply: dropped');
  t.is(byCorrelation(undefined).length, 20, 'answered even without a correlationId');
  t.is((await channel.checkQueue(chaos.queue)).messageCount, 0);
  await assertNothingLostOrDoubled(t, chaos, 'poison', outcomes);
  t.deepEqual([...new Set(outcomes.map((outcome) => outcome.status))], [201], 'valid traffic kept flowing');
  t.true(chaos.user.running && chaos.product.running, 'no process died');
});

test.serial('replies that come late, twice, or with an unknown correlationId → dropped, nothing doubled', async (t) => {
  const { env: environment, system: chaos } = context();
  const claims = JSON.parse(Buffer.from(chaos.token.split('.')[1]!, 'base64url').toString()) as {
    sub: string;
    username: string;
  };
  const vouch: ValidTokenReply = {
    valid: true,
    user_id: Number(claims.sub),
    username: claims.username,
    expires_at: new Date(Date.now() + 600_000).toISOString(),
  };

  // A misbehaving responder beside the real one: it answers twice, adds a stranger's reply,
  // and answers every third request only after the requester has given up.
  const connection = await connect(environment.amqpUrl);
  t.teardown(() => connection.close());
  const channel = await connection.createChannel();
  let taken = 0;
  const { consumerTag } = await channel.consume(chaos.queue, (message) => {
    if (!message) return;
    taken += 1;
    const { replyTo, correlationId } = message.properties as { replyTo: string; correlationId: string };
    const reply = (id: string) =>
      channel.sendToQueue(replyTo, Buffer.from(JSON.stringify(vouch)), {
        correlationId: id,
        type: MESSAGE_TYPES.validateTokenReply,
      });
    channel.ack(message);
    if (taken % 3 === 0) {
      setTimeout(() => reply(correlationId), CHAOS_RPC_TIMEOUT_MS + 300);
      return;
    }
    reply(correlationId);
    reply(correlationId);
    reply(randomUUID());
  });

  const stream = startWriteStream(chaos, 'rogue-replies');
  await sleep(4000);
  await channel.cancel(consumerTag);
  // The last late replies go out after this; the channel stays open for them.
  await sleep(CHAOS_RPC_TIMEOUT_MS + 500);
  const outcomes = await stream.stop();

  t.true(taken > 10, 'the rogue responder took part');
  await assertNothingLostOrDoubled(t, chaos, 'rogue-replies', outcomes);
  const health = (await (await fetch(`${chaos.product.baseUrl}/health`)).json()) as {
    checks: { broker: { pending: number } };
  };
  t.is(health.checks.broker.pending, 0, 'no call left pending');
  t.true(chaos.user.running && chaos.product.running, 'no process died');
});
