import test from 'ava';

import { TestEnvironment } from '@shop/test-harness';

import {
  EventTap,
  brokerAcceptsConnections,
  eventually,
  startChaosSystem,
  timeUntilHealthy,
  unpublishedOutboxRows,
  type ChaosSystem,
} from '../../src';

/** Products created while RabbitMQ is stopped. */
const CREATES_WHILE_DOWN = 20;

let env: TestEnvironment | undefined;
let system: ChaosSystem | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
  // A long cache TTL: while the broker is down only the cache can vouch for the token.
  system = await startChaosSystem(env, { AUTH_CACHE_TTL_MS: String(5 * 60 * 1000) });
});

test.after.always(async () => {
  await system?.stop();
  await env?.close();
});

function createProduct(chaos: ChaosSystem, name: string, token = chaos.token): Promise<Response> {
  return fetch(`${chaos.product.baseUrl}/products`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name, price: 4.5, quantity: 2 }),
  });
}

test.serial(
  'RabbitMQ stopped → creates with a cached token succeed; after restart each event arrives, exactly once after dedup',
  async (t) => {
    if (!env || !system) throw new Error('the system has not started');
    const environment = env;
    const chaos = system;
    const productQueue = environment.queueName('faults.product-events');
    const authQueue = environment.queueName('faults.auth-events');
    const productTap = await (
      await EventTap.open(environment.amqpUrl, chaos.exchanges.product, productQueue)
    ).consume();
    const authTap = await (await EventTap.open(environment.amqpUrl, chaos.exchanges.auth, authQueue)).consume();
    t.teardown(() => productTap.close());
    t.teardown(() => authTap.close());

    // A token whose validation is cached, and a second one to log out while the broker is down.
    t.is((await createProduct(chaos, 'before-outage')).status, 201);
    const credentials = { username: 'chaos_user', password: 'chaos-password-1' };
    const second = (await (
      await fetch(`${chaos.user.baseUrl}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(credentials),
      })
    ).json()) as { access_token: string };
    t.is((await createProduct(chaos, 'before-outage-2', second.access_token)).status, 201);
    await productTap.waitForDistinct(2);
    await productTap.detach();
    await authTap.detach();

    const created: number[] = [];
    try {
      await environment.rabbitmqctl(['stop_app']);
      await eventually(
        async () =>
          ((await (await fetch(`${chaos.product.baseUrl}/health`)).json()) as { status: string }).status === 'degraded',
        10_000,
        'product-service noticing the broker is down',
      );
      for (let i = 0; i < CREATES_WHILE_DOWN; i += 1) {
        const response = await createProduct(chaos, `while-down-${i}`);
        t.is(response.status, 201, `create ${i} while RabbitMQ is down`);
        if (response.status === 201) created.push(((await response.json()) as { id: number }).id);
      }
      const logout = await fetch(`${chaos.user.baseUrl}/logout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${second.access_token}` },
      });
      t.is(logout.status, 204, 'logout works without the broker: its event waits in the outbox');
    } finally {
      await environment.rabbitmqctl(['start_app']);
      await brokerAcceptsConnections(environment);
    }
    const restartedAt = Date.now();

    // The same durable queues, read again: they kept what was published while nobody read.
    const productAfter = await (
      await EventTap.open(environment.amqpUrl, chaos.exchanges.product, productQueue)
    ).consume();
    const authAfter = await (await EventTap.open(environment.amqpUrl, chaos.exchanges.auth, authQueue)).consume();
    t.teardown(() => productAfter.close());
    t.teardown(() => authAfter.close());

    const isCreatedWhileDown = (event: { body: { data: Record<string, unknown> } }) =>
      created.includes((event.body.data as { product: { id: number } }).product.id);
    await eventually(
      async () => Promise.resolve(productAfter.distinct().filter(isCreatedWhileDown).length >= created.length),
      30_000,
      `the ${created.length} product.created events of the outage arriving`,
    );
    const deliveredAt = Date.now();
    await authAfter.waitForDistinct(1, 30_000);
    // Anything published twice is in by now: both outboxes have nothing left to (re)publish and
    // the broker has handed everything in the two queues to the taps.
    await eventually(
      async () =>
        (await unpublishedOutboxRows(chaos.databaseUrls.product)) === 0 &&
        (await unpublishedOutboxRows(chaos.databaseUrls.user)) === 0 &&
        (await productAfter.waiting()) === 0 &&
        (await authAfter.waiting()) === 0,
      30_000,
      'both outboxes published and the taps’ queues read',
    );

    const whileDown = productAfter.deliveries.filter(isCreatedWhileDown);
    const distinct = productAfter.distinct().filter(isCreatedWhileDown);
    t.log(
      `${distinct.length} events of the outage published ${deliveredAt - restartedAt} ms after RabbitMQ was back; ` +
        `${whileDown.length - distinct.length} duplicate deliveries (dropped by the consumer's dedup)`,
    );
    t.deepEqual(
      distinct.map((event) => (event.body.data as { product: { id: number } }).product.id).sort((a, b) => a - b),
      [...created].sort((a, b) => a - b),
      'every create of the outage has exactly one event after dedup',
    );
    t.true(distinct.every((event) => event.routingKey === 'product.created' && event.messageId === event.body.id));
    const revoked = authAfter.distinct();
    t.deepEqual(
      revoked.map((event) => event.routingKey),
      ['auth.token_revoked'],
    );

    // After the reconnect the cache was flushed, so the token logged out during the outage is refused.
    await timeUntilHealthy(chaos);
    await eventually(
      async () => (await createProduct(chaos, 'after-outage', second.access_token)).status === 401,
      10_000,
      'the token logged out during the outage being refused',
    );
    t.is((await createProduct(chaos, 'after-outage-ok')).status, 201);
  },
);
