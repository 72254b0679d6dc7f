import test from 'ava';

import { forgeToken } from '../helpers/factories';
import { RpcProbe } from '../helpers/rpc-probe';
import { useUserService } from '../helpers/use-user-service';

const ctx = useUserService();
let probe: RpcProbe;

test.serial.before(async () => {
  probe = await RpcProbe.open(ctx.env.amqpUrl, ctx.service.queue);
});

test.serial.after.always(async () => {
  await probe.close();
});

/** Calls until the responder answers; resolves with the milliseconds it took, or throws. */
async function timeUntilAnswered(deadlineMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await probe.call({ token: forgeToken({ expiresInSeconds: -1 }) }, {}, 500);
      return Date.now() - started;
    } catch (error) {
      if (Date.now() - started > deadlineMs) throw error;
    }
  }
}

// Serial: each test breaks the responder's connection or queue on purpose.
test.serial('broker closes the connection → the responder reconnects, re-declares and consumes once', async (t) => {
  t.is(await ctx.env.closeBrokerConnections(ctx.service.connectionName), 1);

  const recoveryMs = await timeUntilAnswered(15_000);
  t.log(`answered again ${recoveryMs} ms after the connection was closed`);
  t.true(ctx.service.responder.isConsuming);
  t.is((await probe.queueState()).consumerCount, 1, 'exactly one consumer after reconnecting');

  const health = await fetch(`${ctx.service.baseUrl}/health`);
  t.is(health.status, 200);
});

test.serial('the RPC queue is deleted → the responder declares it again and resumes', async (t) => {
  await (probe as unknown as { channel: { deleteQueue(queue: string): Promise<unknown> } }).channel.deleteQueue(
    ctx.service.queue,
  );

  const recoveryMs = await timeUntilAnswered(15_000);
  t.log(`answered again ${recoveryMs} ms after the queue was deleted`);
  t.is((await probe.queueState()).consumerCount, 1);
});
