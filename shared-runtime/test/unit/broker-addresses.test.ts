import test from 'ava';
import type { Options } from 'amqplib';

import { BrokerAddresses } from '../../src/messaging/broker-addresses';

test('BrokerAddresses: one URL is passed to amqplib as it is', (t) => {
  const addresses = new BrokerAddresses(['amqp://guest:guest@localhost:5672']);
  t.is(addresses.target, 'amqp://guest:guest@localhost:5672');
  addresses.advance();
  t.is(addresses.target, 'amqp://guest:guest@localhost:5672');
});

test('BrokerAddresses: several URLs → one target whose fields follow advance(), round robin', (t) => {
  const addresses = new BrokerAddresses([
    'amqp://user-service:s%40cret@rabbit-0:5673/shop?heartbeat=15&frameMax=8192',
    'amqps://rabbit-1/%2F',
    'amqp://[::1]',
  ]);
  const target = addresses.target as Options.Connect;
  t.like(
    { ...pick(target) },
    {
      protocol: 'amqp',
      hostname: 'rabbit-0',
      port: 5673,
      username: 'user-service',
      password: 's@cret',
      vhost: 'shop',
      heartbeat: 15,
      frameMax: 8192,
    },
  );
  t.is(addresses.current, 'amqp://user-service:***@rabbit-0:5673/shop?heartbeat=15&frameMax=8192');

  addresses.advance();
  // The same object: amqplib holds it and reads it again at each attempt.
  t.deepEqual(pick(target), {
    protocol: 'amqps',
    hostname: 'rabbit-1',
    port: undefined,
    username: undefined,
    password: undefined,
    vhost: '%2F',
    heartbeat: undefined,
    frameMax: undefined,
  });

  addresses.advance();
  t.like(pick(target), { protocol: 'amqp', hostname: '::1', port: undefined });
  addresses.advance();
  t.is(target.hostname, 'rabbit-0');
});

test('BrokerAddresses: no URL at all is refused', (t) => {
  t.throws(() => new BrokerAddresses([]), { message: /at least one/ });
});

function pick(target: Options.Connect): Options.Connect {
  const { protocol, hostname, port, username, password, vhost, heartbeat, frameMax } = target;
  return { protocol, hostname, port, username, password, vhost, heartbeat, frameMax };
}
