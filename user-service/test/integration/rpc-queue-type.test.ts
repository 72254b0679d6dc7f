import test from 'ava';
import { connect, type Channel, type ChannelModel } from 'amqplib';

import { waitUntil } from '@shop/test-harness';

import { loginToken, registerUser } from '../helpers/factories';
import { RpcProbe } from '../helpers/rpc-probe';
import { useUserService } from '../helpers/use-user-service';

const ctx = useUserService();
let connection: ChannelModel;

test.serial.before(async () => {
  connection = await connect(ctx.env.amqpUrl);
});

test.serial.after.always(async () => {
  await connection.close();
});

/** Whether the broker refuses declaring `queue` with `type`: it exists with another type. */
async function refusesType(queue: string, type: string): Promise<boolean> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': type } });
    await channel.close();
    return false;
  } catch (error) {
    return (error as { code?: unknown }).code === 406;
  }
}

/** Whether `queue` exists, asked passively (a declaration would create it). */
async function queueExists(queue: string): Promise<boolean> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    await channel.checkQueue(queue);
    await channel.close();
    return true;
  } catch {
    return false;
  }
}

async function withChannel<T>(use: (channel: Channel) => Promise<T>): Promise<T> {
  const channel = await connection.createChannel();
  try {
    return await use(channel);
  } finally {
    await channel.close().catch(() => undefined);
  }
}

test.serial('the RPC queue is declared as a quorum queue by default', async (t) => {
  t.is(ctx.service.config.amqp.rpcQueueType, 'quorum');
  t.true(await refusesType(ctx.service.queue, 'classic'), 'declaring it classic is refused: it is quorum');
  t.false(await refusesType(ctx.service.queue, 'quorum'));
});

test.serial(
  'AUTH_RPC_QUEUE_TYPE=quorum on an existing classic queue → no reconnect loop: it answers on the queue as it is, /health warns; deleting the queue switches it',
  async (t) => {
    const queue = ctx.env.queueName('auth.validate_token.classic');
    await withChannel((channel) => channel.assertQueue(queue, { durable: true }));

    const other = await ctx.startAnother({ AUTH_RPC_QUEUE: queue, AUTH_RPC_QUEUE_TYPE: 'quorum' });
    const probe = await RpcProbe.open(ctx.env.amqpUrl, queue);
    t.teardown(() => probe.close());
    const user = await registerUser(ctx.service.baseUrl);
    const token = await loginToken(ctx.service.baseUrl, user);

    const reply = await probe.call({ token });
    t.like(reply.body, { valid: true, user_id: user.id });
    t.true(await refusesType(queue, 'quorum'), 'the queue is still classic');
    t.true(other.responder.isConsuming);
    const response = await fetch(`${other.baseUrl}/health`);
    const body = (await response.json()) as {
      status: string;
      checks: { broker: { status: string; warning?: string } };
    };
    t.is(response.status, 200);
    t.is(body.checks.broker.status, 'up');
    t.regex(body.checks.broker.warning ?? '', /exists with another type than AUTH_RPC_QUEUE_TYPE=quorum/);

    // The way to switch: delete the queue once every instance has the new type; the consumer's
    // cancel makes the responder declare it again, now with its configured type.
    await withChannel((channel) => channel.deleteQueue(queue));
    await waitUntil(() => queueExists(queue), 'the responder to declare the queue again');
    t.true(await refusesType(queue, 'classic'), 'the queue is quorum now');
    t.like(await probe.call({ token }), { body: { valid: true } });
    const after = (await (await fetch(`${other.baseUrl}/health`)).json()) as {
      checks: { broker: { warning?: string } };
    };
    t.is(after.checks.broker.warning, undefined);
  },
);

test.serial(
  'a quorum queue honours a request’s expiration (RabbitMQ ≥ 3.10): one nobody took in time is dropped',
  async (t) => {
    const queue = ctx.env.queueName('auth.validate_token.ttl-probe');
    const taken = await withChannel(async (channel) => {
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      channel.sendToQueue(queue, Buffer.from('stale'), { expiration: '50' });
      channel.sendToQueue(queue, Buffer.from('fresh'));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const first = await channel.get(queue, { noAck: true });
      const second = await channel.get(queue, { noAck: true });
      return [first, second].map((message) => (message ? message.content.toString() : null));
    });
    t.deepEqual(taken, ['fresh', null]);
  },
);
