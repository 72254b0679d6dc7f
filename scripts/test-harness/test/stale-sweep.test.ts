import test from 'ava';
import { connect } from 'amqplib';

import { TestEnvironment, createRunId, testQueueName } from '../src';

test('deleteStaleQueues → deletes queues of runs older than six hours and keeps recent ones', async (t) => {
  const env = await TestEnvironment.start();
  t.teardown(() => env.close());
  const stale = testQueueName('sweep.check', createRunId(new Date(Date.now() - 7 * 60 * 60 * 1000)));
  const recent = env.queueName('sweep.check');

  const connection = await connect(env.amqpUrl);
  t.teardown(() => connection.close());
  const channel = await connection.createChannel();
  await channel.assertQueue(stale, { durable: true });
  await channel.assertQueue(recent, { durable: true });

  const deleted = await env.deleteStaleQueues();

  t.true(deleted.includes(stale));
  t.false(deleted.includes(recent));
  await t.notThrowsAsync(channel.checkQueue(recent));
  const probe = await connection.createChannel();
  probe.on('error', () => undefined);
  await t.throwsAsync(probe.checkQueue(stale), { message: /NOT_FOUND/ });
});
