import test from 'ava';
import { connect } from 'amqplib';

import { TestEnvironment } from '@shop/test-harness';

import {
  assertNothingLostOrDoubled,
  brokerAcceptsConnections,
  eventually,
  logRecovery,
  startChaosSystem,
  startWriteStream,
  timeUntilHealthy,
  type ChaosSystem,
  type ServiceProcess,
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

test.serial('rabbitmqctl close_all_connections during authorised writes → 503s, then recovery by itself', async (t) => {
  const { env: environment, system: chaos } = context();
  const stream = startWriteStream(chaos, 'close-all');
  await stream.successesAfter(0, 10);

  await environment.rabbitmqctl(['close_all_connections', 'chaos test']);
  const closedAt = stream.now();
  const recoveredAt = await stream.firstSuccessAfter(closedAt, 20_000);
  logRecovery(t, 'close_all_connections', recoveredAt - closedAt);
  await stream.successesAfter(recoveredAt, 10);
  const outcomes = await stream.stop();

  await assertNothingLostOrDoubled(t, chaos, 'close-all', outcomes);
  t.true(chaos.user.running && chaos.product.running, 'no process died');
  t.log(`health 200 again after ${await timeUntilHealthy(chaos)} ms`);
});

test.serial(
  'RabbitMQ stopped and started (stop_app / start_app) → 503 at once while down, then recovery',
  async (t) => {
    const { env: environment, system: chaos } = context();
    const stream = startWriteStream(chaos, 'stop-app');
    await stream.successesAfter(0, 10);

    const faultAt = stream.now();
    let stoppedAt = faultAt;
    let startingAt = faultAt;
    try {
      await environment.rabbitmqctl(['stop_app']);
      stoppedAt = stream.now();
      // Degraded, not unavailable: a broker outage must not take the instances out of their load balancer.
      const healthOf = async (baseUrl: string) => {
        const response = await fetch(`${baseUrl}/health/ready`);
        return `${response.status} ${((await response.json()) as { status: string }).status}`;
      };
      await eventually(
        async () =>
          (await healthOf(chaos.product.baseUrl)) === '200 degraded' &&
          (await healthOf(chaos.user.baseUrl)) === '200 degraded',
        10_000,
        'both services reporting the broker down',
      ).catch(() => undefined);
      t.is(
        await healthOf(chaos.product.baseUrl),
        '200 degraded',
        'product-service reports the broker down, stays ready',
      );
      t.is(await healthOf(chaos.user.baseUrl), '200 degraded', 'user-service reports the broker down, stays ready');
      // Writes answered while the broker is down, for the check below that each was a 503.
      await stream.answersAfter(stoppedAt + 100, 20);
      // Down long enough for the reconnect backoff to show: three failed attempts per service
      // (200, 400, 800 ms with jitter), instead of a fixed outage length.
      const failedReconnects = (service: ServiceProcess) =>
        service.lines.filter((line) => line.msg.startsWith('cannot reach RabbitMQ')).length;
      await eventually(
        () => failedReconnects(chaos.user) >= 3 && failedReconnects(chaos.product) >= 3,
        30_000,
        'three failed reconnect attempts by each service',
      );
      t.is((await fetch(`${chaos.product.baseUrl}/products?limit=1`)).status, 200, 'public reads keep working');
      for (const service of [chaos.user, chaos.product]) {
        t.is((await fetch(`${service.baseUrl}/health/live`)).status, 200, `${service.name} is alive`);
      }
    } finally {
      startingAt = stream.now();
      await environment.rabbitmqctl(['start_app']);
      await brokerAcceptsConnections(environment);
    }
    const restartedAt = stream.now();
    const recoveredAt = await stream.firstSuccessAfter(restartedAt, 30_000);
    logRecovery(t, 'stop_app/start_app (from start_app)', recoveredAt - restartedAt);
    t.log(`down for ${restartedAt - faultAt} ms`);
    // Backoff with jitter from 200 ms, doubling: a handful of attempts, not a storm.
    for (const service of [chaos.user, chaos.product]) {
      const attempts = service.lines.filter((line) => line.msg.startsWith('cannot reach RabbitMQ')).length;
      t.log(`${service.name}: ${attempts} reconnect attempts failed while the broker was down`);
      t.true(attempts <= 12, `${service.name} reconnected with backoff, not in a storm`);
    }
    await stream.successesAfter(recoveredAt, 10);
    const outcomes = await stream.stop();

    // Answers sent once stop_app had finished and before start_app began.
    const whileDown = outcomes.filter((outcome) => outcome.at > stoppedAt + 100 && outcome.at < startingAt);
    t.true(whileDown.length > 0);
    t.deepEqual(
      whileDown.filter((outcome) => outcome.status !== 503),
      [],
      'every write while the broker was down was refused with 503',
    );
    await assertNothingLostOrDoubled(t, chaos, 'stop-app', outcomes);
    t.true(chaos.user.running && chaos.product.running, 'no process died');
    t.log(`health 200 again after ${await timeUntilHealthy(chaos)} ms`);
  },
);

test.serial('the auth.validate_token queue deleted while running → the responder re-declares it', async (t) => {
  const { env: environment, system: chaos } = context();
  const stream = startWriteStream(chaos, 'queue-deleted');
  await stream.successesAfter(0, 10);

  const connection = await connect(environment.amqpUrl);
  const channel = await connection.createChannel();
  const faultAt = stream.now();
  await channel.deleteQueue(chaos.queue);
  await connection.close();
  const recoveredAt = await stream.firstSuccessAfter(faultAt + 50, 20_000);
  logRecovery(t, 'queue deleted', recoveredAt - faultAt);
  await stream.successesAfter(recoveredAt, 10);
  const outcomes = await stream.stop();

  await assertNothingLostOrDoubled(t, chaos, 'queue-deleted', outcomes);
  t.true(chaos.user.running && chaos.product.running, 'no process died');
});
