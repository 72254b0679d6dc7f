import test from 'ava';

import { TestEnvironment } from '@shop/test-harness';

import {
  CLIENT_DEADLINE_MS,
  ServiceProcess,
  assertNothingLostOrDoubled,
  eventually,
  logRecovery,
  startChaosSystem,
  startWriteStream,
  type ChaosSystem,
} from '../../src';

let env: TestEnvironment | undefined;
let system: ChaosSystem | undefined;
const extraProcesses: ServiceProcess[] = [];

test.before(async () => {
  env = await TestEnvironment.start();
  system = await startChaosSystem(env);
});

test.after.always(async () => {
  await Promise.all(extraProcesses.map((process) => process.stop('SIGKILL')));
  await system?.stop();
  await env?.close();
});

function chaosSystem(): ChaosSystem {
  if (!system) throw new Error('the chaos system has not started');
  return system;
}

/** Starts another user-service on the same database and queue, and waits until it consumes. */
async function anotherUserService(template: ServiceProcess): Promise<ServiceProcess> {
  const instance = await template.startAnother();
  extraProcesses.push(instance);
  await instance.waitForLog(/consuming token-validation requests/);
  return instance;
}

test.serial(
  'user-service killed (SIGKILL) and restarted → 503s while no responder (never a hang), then recovery',
  async (t) => {
    const chaos = chaosSystem();
    const stream = startWriteStream(chaos, 'sigkill');
    await stream.successesAfter(0, 10);

    const faultAt = stream.now();
    t.is(await chaos.user.stop('SIGKILL'), null, 'killed, not exited');
    // Restart only once a client has been told 503: with no responder, calls time out.
    await eventually(
      () => stream.outcomes.some((outcome) => outcome.at > faultAt && outcome.status === 503),
      CLIENT_DEADLINE_MS + 10_000,
      'a write refused with 503 while no responder is up',
    );
    const restarted = await anotherUserService(chaos.user);
    const restartedAt = stream.now();
    const recoveredAt = await stream.firstSuccessAfter(restartedAt, 20_000);
    logRecovery(t, 'user-service SIGKILL (from restart)', recoveredAt - restartedAt);
    t.log(`without a responder for ${restartedAt - faultAt} ms`);
    await stream.successesAfter(recoveredAt, 10);
    const outcomes = await stream.stop();

    await assertNothingLostOrDoubled(t, chaos, 'sigkill', outcomes);
    t.true(chaos.product.running, 'product-service kept running');
    t.true(restarted.running);
    chaos.user = restarted;
  },
);

test.serial('two user-service instances; one killed mid-burst → the other answers what it had not acked', async (t) => {
  const chaos = chaosSystem();
  const second = await anotherUserService(chaos.user);
  const stream = startWriteStream(chaos, 'one-of-two', 16);
  await stream.successesAfter(0, 50);

  const faultAt = stream.now();
  await second.stop('SIGKILL');
  // Requests the killed instance held go back to the queue; the survivor answers them and the rest.
  await stream.successesAfter(faultAt, 50, CLIENT_DEADLINE_MS + 10_000);
  const outcomes = await stream.stop();

  const afterKill = outcomes.filter((outcome) => outcome.at > faultAt);
  const refusedAfterKill = afterKill.filter((outcome) => outcome.status !== 201).length;
  t.log(`after the kill: ${afterKill.length} writes, ${refusedAfterKill} refused`);
  // Only requests in the killed instance's hands may fail: at most its prefetch window
  // (64), and in practice none, since unacked requests go back to the queue.
  t.true(refusedAfterKill <= 64);
  await assertNothingLostOrDoubled(t, chaos, 'one-of-two', outcomes);
  t.true(chaos.user.running && chaos.product.running, 'the survivor and product-service kept running');
});

test.serial(
  'SIGTERM during a burst → requests taken are answered, exit 0 within 10 s, the rest go elsewhere',
  async (t) => {
    const chaos = chaosSystem();
    const survivor = await anotherUserService(chaos.user);
    const stream = startWriteStream(chaos, 'sigterm', 16);
    await stream.successesAfter(0, 50);

    const stoppedAt = Date.now();
    const exitCode = await chaos.user.stop('SIGTERM');
    const shutdownMs = Date.now() - stoppedAt;
    t.log(`SIGTERM → exit ${exitCode} after ${shutdownMs} ms`);
    t.is(exitCode, 0);
    t.true(shutdownMs < 10_000);
    t.truthy(chaos.user.lines.find((line) => line.msg === 'shut down cleanly'));
    await stream.successesAfter(stream.now(), 50);
    const outcomes = await stream.stop();

    const refused = outcomes.filter((outcome) => outcome.status !== 201).length;
    t.is(refused, 0, 'with a second instance on the queue, a graceful stop fails no request');
    await assertNothingLostOrDoubled(t, chaos, 'sigterm', outcomes);
    t.true(survivor.running && chaos.product.running);
    chaos.user = survivor;
  },
);
