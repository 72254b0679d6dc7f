import test from 'ava';
import { connect, type ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';

import { DIRECT_REPLY_TO_QUEUE, MESSAGE_TYPES, type ValidTokenReply } from '@shop/shared-contracts';
import { loginOf, metricSample, TestEnvironment } from '@shop/test-harness';

import {
  CHAOS_RPC_TIMEOUT_MS,
  assertNothingLostOrDoubled,
  eventually,
  startChaosSystem,
  startWriteStream,
  type ChaosSystem,
} from '../../src';

/** Times each poison request is sent. */
const ROUNDS = 20;

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

/**
 * product-service's RPC timeout in the poison test, in ms: long, so that a valid write answered
 * 503 means the poison held the responder up, not that a loaded machine was slower than the
 * chaos suite's short timeout.
 */
const POISON_RPC_TIMEOUT_MS = 10_000;

test.serial('poison RPC requests → each answered or dropped once, the queue drains, valid traffic flows', async (t) => {
  // A system of its own, in an environment of its own (queue and exchange names apart from the
  // file's system, whose short timeout the late-reply test needs).
  const environment = await TestEnvironment.start();
  t.teardown(() => environment.close());
  const chaos = await startChaosSystem(environment, { AUTH_RPC_TIMEOUT_MS: String(POISON_RPC_TIMEOUT_MS) });
  t.teardown(() => chaos.stop());
  const connection = await connect(environment.amqpUrl);
  t.teardown(() => connection.close());
  const channel = await connection.createChannel();
  const replies: ConsumeMessage[] = [];
  await channel.consume(DIRECT_REPLY_TO_QUEUE, (message) => message && replies.push(message), { noAck: true });
  // A queue of the test's own as a replyTo: what arrives there is every reply to those requests.
  const { queue: probe } = await channel.assertQueue('', { exclusive: true });
  const probeReplies: ConsumeMessage[] = [];
  await channel.consume(probe, (message) => message && probeReplies.push(message), { noAck: true });
  const handled = (outcome: string) => metricSample(chaos.user.baseUrl, 'rpc_server_requests_total', { outcome });
  const before = { badRequest: await handled('bad_request'), dropped: await handled('dropped') };
  const stream = startWriteStream(chaos, 'poison');
  await stream.successesAfter(0, 10);

  const withReplyTo = { replyTo: DIRECT_REPLY_TO_QUEUE, type: MESSAGE_TYPES.validateTokenRequest };
  const poisons: [string, Buffer, object][] = [
    ['non-JSON', Buffer.from('not json at all'), { ...withReplyTo, correlationId: 'poison-non-json' }],
    ['wrong types', Buffer.from('{"token": 42}'), { ...withReplyTo, correlationId: 'poison-types' }],
    [
      '1 MB body',
      Buffer.from(JSON.stringify({ token: 'x'.repeat(1024 * 1024) })),
      { ...withReplyTo, correlationId: 'poison-1mb' },
    ],
    [
      'non-JSON, replyTo a probe queue',
      Buffer.from('{"token": '),
      { replyTo: probe, type: MESSAGE_TYPES.validateTokenRequest, correlationId: 'poison-probe' },
    ],
    ['no replyTo', Buffer.from('{"token": "a.b.c"}'), { correlationId: 'poison-no-reply-to' }],
    ['no correlationId', Buffer.from('{"token": "a.b.c"}'), withReplyTo],
  ];
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [, body, properties] of poisons) channel.sendToQueue(chaos.queue, body, properties);
  }

  await eventually(async () => (await channel.checkQueue(chaos.queue)).messageCount === 0, 10_000, 'the queue drained');
  // Each malformed body (4 kinds) is a bad_request; each request without a replyTo is dropped.
  await eventually(
    async () =>
      (await handled('bad_request')) >= before.badRequest + 4 * ROUNDS &&
      (await handled('dropped')) >= before.dropped + ROUNDS,
    10_000,
    'user-service handling every poison request',
  ).catch(() => undefined);
  const byCorrelation = (id: string | undefined) => replies.filter((reply) => reply.properties.correlationId === id);
  await eventually(
    () =>
      ['poison-non-json', 'poison-types', 'poison-1mb'].every((id) => byCorrelation(id).length >= ROUNDS) &&
      byCorrelation(undefined).length >= ROUNDS &&
      probeReplies.length >= ROUNDS,
    10_000,
    'the replies arriving',
  ).catch(() => undefined);
  const drainedAt = stream.now();
  await stream.successesAfter(drainedAt, 10);
  const outcomes = await stream.stop();

  for (const id of ['poison-non-json', 'poison-types', 'poison-1mb']) {
    t.is(byCorrelation(id).length, ROUNDS, `${id}: one reply per request`);
    t.like(JSON.parse(byCorrelation(id)[0]!.content.toString()), { error: { code: 'bad_request' } });
  }
  t.is(probeReplies.length, ROUNDS, 'exactly one reply per request in the probe queue');
  for (const reply of probeReplies) {
    t.is(reply.properties.correlationId, 'poison-probe');
    t.like(JSON.parse(reply.content.toString()), { error: { code: 'bad_request' } });
  }
  t.is(await handled('bad_request'), before.badRequest + 4 * ROUNDS, 'one bad_request per malformed request');
  // Without a replyTo there is nowhere to answer: user-service takes each, answers none, drops it once.
  t.is(await handled('dropped'), before.dropped + ROUNDS, 'each request without a replyTo dropped once');
  t.is(
    chaos.user.lines.filter((line) => line.msg === 'RPC request without replyTo dropped').length,
    ROUNDS,
    'and logged as dropped',
  );
  t.is(byCorrelation('poison-no-reply-to').length, 0);
  t.is(byCorrelation(undefined).length, ROUNDS, 'answered even without a correlationId');
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
  // and answers every third request only after the requester has given up. It logs in as the
  // services do (all on one broker user), so its replies pass the sender check and reach the
  // correlation map, whose handling of them is what this test is about.
  const connection = await connect(environment.amqpUrl);
  t.teardown(() => connection.close());
  const channel = await connection.createChannel();
  const droppedReplies = () => metricSample(chaos.product.baseUrl, 'rpc_client_dropped_replies_total');
  const droppedBefore = await droppedReplies();
  let taken = 0;
  let lateScheduled = 0;
  let lateSent = 0;
  const { consumerTag } = await channel.consume(chaos.queue, (message) => {
    if (!message) return;
    taken += 1;
    const { replyTo, correlationId } = message.properties as { replyTo: string; correlationId: string };
    const reply = (id: string) =>
      channel.sendToQueue(replyTo, Buffer.from(JSON.stringify(vouch)), {
        correlationId: id,
        type: MESSAGE_TYPES.validateTokenReply,
        userId: loginOf(environment.amqpUrl),
      });
    channel.ack(message);
    if (taken % 3 === 0) {
      lateScheduled += 1;
      // 2 s past the requester's timeout: late however slowly its timer fires on a busy machine.
      setTimeout(() => {
        reply(correlationId);
        lateSent += 1;
      }, CHAOS_RPC_TIMEOUT_MS + 2000);
      return;
    }
    reply(correlationId);
    reply(correlationId);
    reply(randomUUID());
  });

  const stream = startWriteStream(chaos, 'rogue-replies');
  await eventually(() => taken >= 12, 60_000, 'the rogue responder taking 12 requests');
  await channel.cancel(consumerTag);
  // The last late replies go out after this; the channel stays open for them.
  await eventually(() => lateSent === lateScheduled, CHAOS_RPC_TIMEOUT_MS + 10_000, 'the late replies going out');
  const outcomes = await stream.stop();
  // Every reply but the first of each request it answered at once, and every late one, was
  // left over: the second copy and the stranger's (2 each), and the late reply (1 each).
  const leftOver = 2 * (taken - lateScheduled) + lateScheduled;
  await eventually(
    async () => (await droppedReplies()) >= droppedBefore + leftOver,
    10_000,
    'product-service dropping the left-over replies',
  ).catch(() => undefined);

  t.true(taken >= 12, 'the rogue responder took part');
  t.is(await droppedReplies(), droppedBefore + leftOver, 'every left-over reply dropped, once');
  await assertNothingLostOrDoubled(t, chaos, 'rogue-replies', outcomes);
  const health = (await (await fetch(`${chaos.product.baseUrl}/health`)).json()) as {
    checks: { broker: { pending: number } };
  };
  t.is(health.checks.broker.pending, 0, 'no call left pending');
  t.true(chaos.user.running && chaos.product.running, 'no process died');
});
