import test from 'ava';

import { MESSAGE_TYPES, REQUEST_ID_HEADER } from '@shop/shared-contracts';
import { loginOf, sampleValue, scrapeMetrics, waitUntil } from '@shop/test-harness';

import { forgeToken, loginToken, registerUser, unsignedToken } from '../helpers/factories';
import { RpcProbe } from '../helpers/rpc-probe';
import { useUserService } from '../helpers/use-user-service';

const ctx = useUserService();
let probe: RpcProbe;

test.serial.before(async () => {
  probe = await RpcProbe.open(ctx.env.amqpUrl, ctx.service.queue);
});

test.serial.after.always(async () => {
  await probe.close();
});

/** Whether the RPC queue empties (every request taken), polling for up to 10 s. */
async function queueDrained(): Promise<boolean> {
  try {
    await waitUntil(async () => (await probe.queueState()).messageCount === 0, 'the RPC queue to drain', {
      intervalMs: 20,
    });
    return true;
  } catch {
    return false;
  }
}

test('RPC valid token → valid reply with the user, the same correlationId, type, appId and request id', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);

  const reply = await probe.call({ token }, { correlationId: 'corr-1', headers: { [REQUEST_ID_HEADER]: 'req-77' } });

  t.like(reply.body, { valid: true, user_id: user.id, username: user.username });
  t.true(Date.parse((reply.body as { expires_at: string }).expires_at) > Date.now());
  t.like(reply.properties, {
    correlationId: 'corr-1',
    type: MESSAGE_TYPES.validateTokenReply,
    appId: 'user-service',
    contentType: 'application/json',
  });
  t.is(reply.properties.headers?.[REQUEST_ID_HEADER], 'req-77');
});

const invalidCases: [string, () => Promise<string> | string, string][] = [
  ['expired', () => forgeToken({ expiresInSeconds: -60 }), 'expired'],
  [
    'signed with another key',
    () => forgeToken({ secret: 'not-our-secret-but-long-enough-0123456789' }),
    'bad_signature',
  ],
  ['alg: none', () => unsignedToken({ sub: '1', username: 'x' }), 'bad_signature'],
  ['for an unknown user', () => forgeToken({ sub: 1_999_999_999 }), 'user_not_found'],
  [
    'for an inactive user',
    async () => {
      const user = await registerUser(ctx.service.baseUrl);
      await ctx.service.users.update(user.id, { isActive: false });
      return forgeToken({ sub: user.id, username: user.username });
    },
    'user_inactive',
  ],
];

for (const [name, makeToken, reason] of invalidCases) {
  test(`RPC token ${name} → { valid: false, reason: "${reason}" }`, async (t) => {
    const reply = await probe.call({ token: await makeToken() });
    t.deepEqual(reply.body, { valid: false, reason });
  });
}

test('RPC non-JSON body → error reply (bad_request), acked, queue drained', async (t) => {
  const reply = await probe.call(Buffer.from('this is not json'));
  t.deepEqual(reply.body, { error: { code: 'bad_request', message: 'message body is not valid JSON' } });
  t.true(await queueDrained());
});

test('RPC body of the wrong shape → error reply (bad_request) naming the problem', async (t) => {
  const reply = await probe.call({ token: 42, extra: true });
  t.like(reply.body, { error: { code: 'bad_request' } });
  t.regex((reply.body as { error: { message: string } }).error.message, /"token" must be a string/);
});

/** Requests the responder has handled with `outcome`, as its /metrics counts them. */
async function handled(outcome: string): Promise<number> {
  return sampleValue(await scrapeMetrics(ctx.service.baseUrl), 'rpc_server_requests_total', { outcome });
}

test('RPC request without replyTo → dropped (counted as such) and acked; the next request is still answered', async (t) => {
  // No other test of this file sends a request without replyTo.
  const droppedBefore = await handled('dropped');

  probe.publish(Buffer.from(JSON.stringify({ token: forgeToken() })), { correlationId: 'nowhere-to-go' });
  await waitUntil(async () => (await handled('dropped')) > droppedBefore, 'the request to be dropped', {
    intervalMs: 20,
  });
  t.true(await queueDrained());

  const reply = await probe.call({ token: 'still-answering' });
  t.deepEqual(reply.body, { valid: false, reason: 'malformed' });
  t.is((await handled('dropped')) - droppedBefore, 1);
});

test('RPC malformed request with replyTo a queue of ours → exactly one error reply there, with its correlationId', async (t) => {
  const replies = await probe.replyQueue();
  probe.publish(Buffer.from('this is not json'), { correlationId: 'bad-1', replyTo: replies.name });
  await waitUntil(() => replies.received.length >= 1, 'the error reply', { intervalMs: 10 });

  // Exactly one, without waiting a fixed time: the responder sends a request's reply and acks it
  // in one go, so when the first reply is here its handling is over, and a redelivery of it
  // would be queued ahead of a request published only now. Once this one's reply is here, any
  // second reply to the first would have come before it.
  probe.publish(Buffer.from(JSON.stringify({ token: 'not-a-token' })), {
    correlationId: 'after',
    replyTo: replies.name,
  });
  await waitUntil(
    () => replies.received.some((message) => message.properties.correlationId === 'after'),
    'the reply to the request sent after it',
    { intervalMs: 10 },
  );

  t.deepEqual(
    replies.received.map((message) => [
      message.properties.correlationId as string,
      JSON.parse(message.content.toString('utf8')) as unknown,
    ]),
    [
      ['bad-1', { error: { code: 'bad_request', message: 'message body is not valid JSON' } }],
      ['after', { valid: false, reason: 'malformed' }],
    ],
  );
  t.like(replies.received[0]?.properties, { type: MESSAGE_TYPES.validateTokenReply, appId: 'user-service' });
});

test('RPC burst of 500 concurrent requests → every one answered with its own correlationId', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  const expired = forgeToken({ expiresInSeconds: -60 });

  const replies = await Promise.all(
    Array.from({ length: 500 }, (_, i) => probe.call({ token: i % 2 === 0 ? token : expired }, {}, 20_000)),
  );

  replies.forEach((reply, i) => {
    if (i % 2 === 0) t.like(reply.body, { valid: true, user_id: user.id });
    else t.deepEqual(reply.body, { valid: false, reason: 'expired' });
  });
  t.is(new Set(replies.map((reply) => reply.properties.correlationId as string)).size, 500);
  t.true(await queueDrained());
});

test('RPC from a broker user not in AUTH_RPC_ALLOWED_CALLERS → error reply `forbidden`, counted; an allowed one is answered', async (t) => {
  const login = loginOf(ctx.env.amqpUrl);
  const guarded = await ctx.startAnother({
    AUTH_RPC_QUEUE: ctx.env.queueName('auth.validate_token.guarded'),
    AUTH_RPC_ALLOWED_CALLERS: 'product-service',
  });
  const open = await ctx.startAnother({
    AUTH_RPC_QUEUE: ctx.env.queueName('auth.validate_token.open'),
    AUTH_RPC_ALLOWED_CALLERS: `product-service,${login}`,
  });
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  const guardedProbe = await RpcProbe.open(ctx.env.amqpUrl, guarded.queue);
  const openProbe = await RpcProbe.open(ctx.env.amqpUrl, open.queue);
  t.teardown(async () => {
    await guardedProbe.close();
    await openProbe.close();
  });

  const refused = await guardedProbe.call({ token }, { userId: login });
  const anonymous = await guardedProbe.call({ token });
  const answered = await openProbe.call({ token }, { userId: login });

  t.like(refused.body, { error: { code: 'forbidden' } });
  t.like(anonymous.body, { error: { code: 'forbidden' } }, 'a request without userId names no caller');
  t.is(refused.properties.userId, login, 'the reply names the responder’s broker user');
  t.like(answered.body, { valid: true, user_id: user.id });
  const metrics = await scrapeMetrics(guarded.baseUrl);
  t.is(sampleValue(metrics, 'rpc_server_requests_total', { outcome: 'forbidden' }), 2);
  t.is(sampleValue(metrics, 'rpc_server_requests_total', { outcome: 'valid' }), 0);
});
