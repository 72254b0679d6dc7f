import test from 'ava';
import jwt from 'jsonwebtoken';
import { QueryTypes } from 'sequelize';

import { EVENT_TYPES, type TokenRevokedEvent } from '@shop/shared-contracts';
import { EventListener, TcpProxy, TestEnvironment, waitUntil } from '@shop/test-harness';

import { loginToken, registerUser } from '../helpers/factories';
import { startUserService, type StartedUserService } from '../helpers/user-service';

/**
 * The service reaches RabbitMQ through a TCP proxy of this file's own, so cutting the proxy is a
 * broker outage for this service alone: the shared broker and every other test keep running.
 * The listener connects to the broker directly and sees what the service publishes.
 */
let env: TestEnvironment | undefined;
let proxy: TcpProxy | undefined;
let service: StartedUserService | undefined;
let listener: EventListener | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
  const broker = new URL(env.amqpUrl);
  proxy = await TcpProxy.start({ targetHost: broker.hostname, targetPort: Number(broker.port || 5672) });
  service = await startUserService(env, { AMQP_URL: proxy.proxiedUrl(env.amqpUrl) });
  listener = await EventListener.bind(
    env.amqpUrl,
    service.config.amqp.authEventsExchange,
    env.queueName('auth.events.outage'),
  );
});

test.after.always(async () => {
  await listener?.close();
  await service?.close();
  await proxy?.close();
  await env?.close();
});

const LOGOUTS = 20;

/** How long the outage lasts, in ms: long enough for several reconnect attempts to fail. */
const OUTAGE_MS = 2000;

test('broker outage → logouts still succeed; their events wait in the outbox and all arrive once the broker is back', async (t) => {
  const { baseUrl, sequelize, relay } = service!;
  const user = await registerUser(baseUrl);
  const tokens = await Promise.all(Array.from({ length: LOGOUTS }, () => loginToken(baseUrl, user)));
  const jtis = tokens.map((token) => (jwt.decode(token) as { jti: string }).jti);

  proxy!.cut();
  await waitUntil(() => !relay.isReady, 'the relay to lose its channel');
  const statuses = await Promise.all(
    tokens.map(async (token) => {
      const response = await fetch(`${baseUrl}/logout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      return response.status;
    }),
  );

  t.deepEqual(statuses, Array<number>(LOGOUTS).fill(204), 'logout needs no broker');
  const [waiting] = await sequelize.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM outbox_events
      WHERE type = :type AND published_at IS NULL AND payload -> 'data' ->> 'jti' IN (:jtis)`,
    { replacements: { type: EVENT_TYPES.tokenRevoked, jtis }, type: QueryTypes.SELECT },
  );
  t.is(waiting?.count, LOGOUTS, 'every event waits in the outbox');
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  t.is(listener!.events().length, 0);

  const restoredAt = Date.now();
  proxy!.restore();

  const ours = (event: { body: unknown }) => jtis.includes((event.body as TokenRevokedEvent).data.jti);
  const received = await listener!.waitFor(LOGOUTS, ours, 30_000);
  const elapsedMs = Date.now() - restoredAt;
  const ids = received.map((event) => event.properties.messageId as string);
  const distinct = new Set(ids);
  t.is(distinct.size, LOGOUTS, 'every change has its event');
  t.deepEqual(
    [...new Set(received.map((event) => (event.body as TokenRevokedEvent).data.jti))].sort(),
    [...jtis].sort(),
    'no event is missing',
  );
  t.log(
    `all ${LOGOUTS} events arrived ${elapsedMs} ms after restore(); duplicates seen: ${ids.length - distinct.size}`,
  );
});
