import test from 'ava';

import { TestEnvironment } from '@shop/test-harness';

import {
  assertNothingLostOrDoubled,
  logRecovery,
  startChaosSystem,
  startWriteStream,
  timeUntilHealthy,
  type ChaosSystem,
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

test.serial('every PostgreSQL connection of both services terminated → brief 503s, no crash, recovery', async (t) => {
  if (!env || !system) throw new Error('the chaos system has not started');
  const chaos = system;
  const databases = Object.values(chaos.databaseUrls).map((url) => new URL(url).pathname.slice(1));
  const stream = startWriteStream(chaos, 'pg-terminate');
  await stream.successesAfter(0, 10);

  const faultAt = stream.now();
  const terminated = await env.adminQuery<{ pid: number }>(
    'SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE datname = ANY($1)',
    [databases],
  );
  t.log(`terminated ${terminated.length} backends`);
  t.true(terminated.length >= 2, 'both services had connections to lose');
  const recoveredAt = await stream.firstSuccessAfter(faultAt + 50, 20_000);
  logRecovery(t, 'pg_terminate_backend', recoveredAt - faultAt);
  await stream.successesAfter(recoveredAt, 10);
  const outcomes = await stream.stop();

  await assertNothingLostOrDoubled(t, chaos, 'pg-terminate', outcomes);
  t.true(chaos.user.running && chaos.product.running, 'no process died');
  t.log(`health 200 again after ${await timeUntilHealthy(chaos)} ms`);
});
