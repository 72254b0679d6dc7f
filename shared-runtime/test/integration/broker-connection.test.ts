import test, { type ExecutionContext } from 'ava';

import { TcpProxy, waitUntil } from '@shop/test-harness';

import { createLogger } from '../../src';
import { connectToBroker } from '../../src/messaging';
import { useTestEnvironment } from '../helpers/environment';
import { lineCollector } from '../helpers/http';

const ctx = useTestEnvironment();

/** The broker through a proxy of this test's own: cutting it loses this test's connection alone. */
async function proxiedBroker(t: ExecutionContext): Promise<TcpProxy> {
  const broker = new URL(ctx.env.amqpUrl);
  const proxy = await TcpProxy.start({ targetHost: broker.hostname, targetPort: Number(broker.port || 5672) });
  t.teardown(() => proxy.close());
  return proxy;
}

/** A gate the first setup waits at, so a test can cut the connection while that setup runs. */
function firstSetupGate(): { held: Promise<void>; release: () => void } {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { held, release };
}

test('connectToBroker: the connection lost while its setup runs → no uncaught error; the setup fails, runs again on a new connection, and it comes up', async (t) => {
  const proxy = await proxiedBroker(t);
  const lines: string[] = [];
  const logger = createLogger({
    level: 'warn',
    service: 'test-service',
    version: 'test',
    destination: lineCollector(lines),
  });
  let setups = 0;
  const gate = firstSetupGate();
  let connects = 0;

  const connection = await connectToBroker({
    urls: [proxy.proxiedUrl(ctx.env.amqpUrl)],
    connectionName: `shared-runtime.test.setup-guard.${ctx.env.runId}`,
    logger,
    setup: async (model) => {
      setups += 1;
      if (setups === 1) await gate.held;
      // As every real setup does: open a channel (on the lost connection this fails).
      const channel = await model.createChannel();
      await channel.close();
    },
  });
  t.teardown(() => connection.close().catch(() => undefined));
  connection.on('connect', () => {
    connects += 1;
  });
  await waitUntil(() => setups === 1, 'the first setup to start');

  // amqplib's recovery listens for `error` only after setup: without the guard, the socket's end
  // here is an uncaught exception, which fails this test file (and would end a service).
  proxy.cut();
  await waitUntil(
    () => lines.some((line) => line.includes('lost the RabbitMQ connection while setting it up')),
    'the loss to be logged',
  );
  proxy.restore();
  gate.release();
  await waitUntil(() => connects === 1, 'the connection to come up');

  t.true(setups >= 2, `setup ran ${setups} times`);
  t.is(connects, 1);
});

test('connectToBroker: the connection lost while a setup that does not fail runs → it is not adopted; a new one comes up', async (t) => {
  const proxy = await proxiedBroker(t);
  const logger = createLogger({ level: 'silent', service: 'test-service', version: 'test' });
  let setups = 0;
  const gate = firstSetupGate();
  const connection = await connectToBroker({
    urls: [proxy.proxiedUrl(ctx.env.amqpUrl)],
    connectionName: `shared-runtime.test.setup-closed.${ctx.env.runId}`,
    logger,
    // As a component that retries its channel in the background does: it resolves whatever happened.
    setup: async (model) => {
      setups += 1;
      if (setups === 1) await gate.held;
      await model.createChannel().then(
        (channel) => channel.close(),
        () => undefined,
      );
    },
  });
  t.teardown(() => connection.close().catch(() => undefined));
  let connects = 0;
  connection.on('connect', () => {
    connects += 1;
  });
  await waitUntil(() => setups === 1, 'the first setup to start');

  proxy.cut();
  proxy.restore();
  gate.release();
  await waitUntil(() => connects === 1, 'a connection to come up');

  t.true(setups >= 2, `setup ran ${setups} times: the first connection was not adopted`);
  const channel = await connection.createChannel();
  await channel.close();
  t.pass('the adopted connection works');
});
