import test from 'ava';

import { ConfigError, brokerIdentitiesOf, brokerUserOf } from '../../src';

test('brokerUserOf → the first URL’s username, decoded; guest when it names none (as amqplib logs in)', (t) => {
  t.is(brokerUserOf('amqp://user-service:pw@rabbit:5672/shop'), 'user-service');
  t.is(brokerUserOf('amqp://a%40b:pw@rabbit'), 'a@b');
  t.is(brokerUserOf('amqp://localhost'), 'guest');
  t.is(brokerUserOf('amqp://node-a:pw@one:5672/shop, amqp://node-a:pw@two:5672/shop'), 'node-a');
});

test('brokerIdentitiesOf → both default to the own user (not separated); set, the peer’s is believed', (t) => {
  t.deepEqual(brokerIdentitiesOf({}, 'product-service', ['amqp://guest:guest@localhost']), {
    own: 'guest',
    userService: 'guest',
    productService: 'guest',
    separated: false,
  });
  t.like(
    brokerIdentitiesOf({ USER_SERVICE_BROKER_USER: 'user-service' }, 'product-service', ['amqp://product-service:x@h']),
    { own: 'product-service', userService: 'user-service', productService: 'product-service', separated: true },
  );
});

test('brokerIdentitiesOf → the own variable naming another user than AMQP_URL’s stops the start', (t) => {
  t.throws(() => brokerIdentitiesOf({ USER_SERVICE_BROKER_USER: 'x' }, 'user-service', ['amqp://y:p@h']), {
    instanceOf: ConfigError,
    message: /USER_SERVICE_BROKER_USER is x but AMQP_URL logs in as y/,
  });
});
