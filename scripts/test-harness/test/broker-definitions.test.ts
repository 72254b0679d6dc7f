import test from 'ava';
import { connect as connectAmqp } from 'amqplib';

import {
  LOCAL_TRIAL_PASSWORDS,
  TestEnvironment,
  hashPassword,
  passwordMatches,
  readDefinitions,
  type BrokerIdentities,
} from '../src';

const definitions = readDefinitions();

test('definitions → every user’s hash is of its documented local-trial password (sha256, as RabbitMQ stores it)', (t) => {
  t.deepEqual(
    definitions.users.map((user) => user.name),
    ['user-service', 'product-service', 'admin'],
  );
  for (const user of definitions.users) {
    t.is(user.hashing_algorithm, 'rabbit_password_hashing_sha256');
    t.true(passwordMatches(user.password_hash, LOCAL_TRIAL_PASSWORDS[user.name] ?? ''), user.name);
    t.false(passwordMatches(user.password_hash, 'guest'), user.name);
  }
  t.true(passwordMatches(hashPassword('s3cret'), 's3cret'));
});

test('definitions → vhost shop; every permission and topic permission is an anchored regex on it', (t) => {
  t.deepEqual(definitions.vhosts, [{ name: 'shop' }]);
  for (const grant of [...definitions.permissions, ...definitions.topic_permissions]) {
    t.is(grant.vhost, 'shop');
    for (const pattern of Object.entries(grant)
      .filter(([key]) => ['configure', 'write', 'read'].includes(key))
      .map(([, value]) => value)) {
      t.notThrows(() => new RegExp(pattern));
      t.true(pattern === '.*' || (pattern.startsWith('^') && pattern.endsWith('$')), `${grant.user}: ${pattern}`);
    }
  }
});

test('TestEnvironment.brokerIdentities → a vhost and users of this run that log in there; all gone after close', async (t) => {
  const env = await TestEnvironment.start();
  let identities: BrokerIdentities | undefined;
  try {
    identities = await env.brokerIdentities();
    const connection = await connectAmqp(identities.url('product-service'));
    await connection.close();

    t.regex(identities.vhost, /^shoptest\./);
    t.regex(identities.user('user-service'), /^shoptest\.user-service\./);
    const permissions = await env.rabbitmqctl(['list_permissions', '-p', identities.vhost, '-q', '--no-table-headers']);
    t.true(permissions.includes(identities.user('product-service')));
  } finally {
    await env.close();
  }
  const vhosts = await env.rabbitmqctl(['list_vhosts', 'name', '-q', '--no-table-headers']);
  const users = await env.rabbitmqctl(['list_users', '-q', '--no-table-headers']);
  t.false(vhosts.includes(identities.vhost), 'the vhost is deleted');
  t.false(users.includes(`.${env.runId}`), 'the users are deleted');
});
