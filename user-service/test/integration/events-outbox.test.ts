import test from 'ava';
import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { QueryTypes } from 'sequelize';

import {
  EVENT_TYPES,
  REQUEST_ID_HEADER,
  tokenRevokedEventSchema,
  userDeactivatedEventSchema,
  validateMessage,
  type TokenRevokedEvent,
  type UserDeactivatedEvent,
} from '@shop/shared-contracts';

import { EventListener, type ReceivedEvent, retryOnDeadlock } from '@shop/test-harness';

import { loginToken, postJson, registerUser } from '../helpers/factories';
import { useUserService } from '../helpers/use-user-service';

const ctx = useUserService();
let listener: EventListener;

test.serial.before(async () => {
  listener = await EventListener.bind(
    ctx.env.amqpUrl,
    ctx.service.config.amqp.authEventsExchange,
    ctx.env.queueName('auth.events.listener'),
  );
});

test.serial.after.always(async () => {
  await listener.close();
});

/** How long to keep listening for an event that must not come, in ms (several relay drains). */
const QUIET_PERIOD_MS = 1500;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface OutboxRow {
  id: string;
  type: string;
  payload: unknown;
  occurred_at: Date;
  published_at: Date | null;
  attempts: number;
}

function outboxRowsAbout(userId: number): Promise<OutboxRow[]> {
  return ctx.service.sequelize.query<OutboxRow>(
    `SELECT * FROM outbox_events WHERE (payload -> 'data' ->> 'user_id')::int = :userId ORDER BY occurred_at`,
    { replacements: { userId }, type: QueryTypes.SELECT },
  );
}

const revocationOf = (jti: string) => (event: ReceivedEvent) =>
  event.routingKey === EVENT_TYPES.tokenRevoked && (event.body as TokenRevokedEvent).data.jti === jti;

const deactivationOf = (userId: number) => (event: ReceivedEvent) =>
  event.routingKey === EVENT_TYPES.userDeactivated && (event.body as UserDeactivatedEvent).data.user_id === userId;

function claimsOf(token: string): { jti: string; exp: number } {
  return jwt.decode(token) as { jti: string; exp: number };
}

/** Polls `read` until it gives a value; rejects after `timeoutMs`. */
async function eventually<T>(read: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`nothing after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function quietPeriod(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, QUIET_PERIOD_MS));
}

test('POST /logout → one auth.token_revoked event with the token’s jti, user and exp and the request id, as a persistent message whose messageId is the event id', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  const requestId = `logout-${randomUUID()}`;

  const response = await fetch(`${ctx.service.baseUrl}/logout`, {
    method: 'POST',
    headers: { ...bearer(token), 'x-request-id': requestId },
  });

  t.is(response.status, 204);
  const [message] = await listener.waitFor(1, revocationOf(claimsOf(token).jti));
  const event = message!.body as TokenRevokedEvent;
  const check = validateMessage(tokenRevokedEventSchema, event);
  t.true(check.ok, check.ok ? undefined : check.error);
  t.like(event, {
    type: EVENT_TYPES.tokenRevoked,
    version: 1,
    request_id: requestId,
    data: { jti: claimsOf(token).jti, user_id: user.id, exp: claimsOf(token).exp },
  });
  t.like(message!.properties, {
    messageId: event.id,
    type: EVENT_TYPES.tokenRevoked,
    appId: 'user-service',
    contentType: 'application/json',
    deliveryMode: 2,
    timestamp: Math.floor(Date.parse(event.occurred_at) / 1000),
  });
  t.is((message!.properties.headers as Record<string, unknown>)[REQUEST_ID_HEADER], requestId);

  // The broker routes the message as it confirms it; the relay marks the row a moment later.
  const row = await eventually(async () => (await outboxRowsAbout(user.id)).find((found) => found.published_at));
  t.is(row.id, event.id);
  t.deepEqual(row.payload, event, 'the message body is the stored envelope');
  t.is(row.occurred_at.toISOString(), event.occurred_at);
  t.is(row.attempts, 1);
});

test('logout, logout again (401) and RFC 7009 revocation of the same token → still exactly one event', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const revoked = await loginToken(ctx.service.baseUrl, user);
  const caller = await loginToken(ctx.service.baseUrl, user);
  const { jti } = claimsOf(revoked);

  const logout = () => fetch(`${ctx.service.baseUrl}/logout`, { method: 'POST', headers: bearer(revoked) });
  t.is((await logout()).status, 204);
  t.is((await logout()).status, 401);
  t.is((await postJson(ctx.service.baseUrl, '/revoke', { token: revoked }, bearer(caller))).status, 200);

  await listener.waitFor(1, revocationOf(jti));
  await quietPeriod();
  t.is(listener.events(revocationOf(jti)).length, 1);
  t.is((await outboxRowsAbout(user.id)).length, 1);
});

test('POST /revoke of another live token of the caller → one event for that token', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const target = await loginToken(ctx.service.baseUrl, user);
  const caller = await loginToken(ctx.service.baseUrl, user);

  const response = await postJson(ctx.service.baseUrl, '/revoke', { token: target }, bearer(caller));

  t.is(response.status, 200);
  const [message] = await listener.waitFor(1, revocationOf(claimsOf(target).jti));
  t.is((message!.body as TokenRevokedEvent).request_id, response.headers.get('x-request-id'));
});

test('POST /revoke of a foreign token or garbage → 200 and no event', async (t) => {
  const alice = await registerUser(ctx.service.baseUrl);
  const bob = await registerUser(ctx.service.baseUrl);
  const aliceToken = await loginToken(ctx.service.baseUrl, alice);
  const bobToken = await loginToken(ctx.service.baseUrl, bob);

  for (const token of [bobToken, 'not-a-token']) {
    t.is((await postJson(ctx.service.baseUrl, '/revoke', { token }, bearer(aliceToken))).status, 200);
  }

  await quietPeriod();
  t.is(listener.events(revocationOf(claimsOf(bobToken).jti)).length, 0);
  t.deepEqual(await outboxRowsAbout(bob.id), []);
  t.deepEqual(await outboxRowsAbout(alice.id), []);
});

test('PATCH /users/me { is_active: false } → one user.deactivated event', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  const requestId = `deactivate-${randomUUID()}`;

  const response = await fetch(`${ctx.service.baseUrl}/users/me`, {
    method: 'PATCH',
    headers: { ...bearer(token), 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ is_active: false }),
  });

  t.is(response.status, 200);
  const [message] = await listener.waitFor(1, deactivationOf(user.id));
  const event = message!.body as UserDeactivatedEvent;
  const check = validateMessage(userDeactivatedEventSchema, event);
  t.true(check.ok, check.ok ? undefined : check.error);
  t.like(event, { type: EVENT_TYPES.userDeactivated, request_id: requestId, data: { user_id: user.id } });
  t.is(message!.properties.messageId, event.id);
});

test('two concurrent deactivations of one account (two tokens) → both 200, exactly one event', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const tokens = [await loginToken(ctx.service.baseUrl, user), await loginToken(ctx.service.baseUrl, user)];

  const responses = await Promise.all(
    tokens.map((token) =>
      fetch(`${ctx.service.baseUrl}/users/me`, {
        method: 'PATCH',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify({ is_active: false }),
      }),
    ),
  );

  // A call that finds the account already inactive answers 200 too (or 401 if it was checked after).
  t.true(responses.some((response) => response.status === 200));
  await listener.waitFor(1, deactivationOf(user.id));
  await quietPeriod();
  t.is(listener.events(deactivationOf(user.id)).length, 1);
  t.is((await outboxRowsAbout(user.id)).length, 1);
});

/**
 * Makes every outbox insert about `userId` fail, as a full disk or a broken outbox table
 * would, for this test's user only (the tests beside it keep recording events).
 */
async function refuseOutboxInsertsAbout(userId: number): Promise<() => Promise<void>> {
  const { sequelize } = ctx.service;
  const name = `refuse_outbox_${userId}`;
  await sequelize.query(`
    CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'outbox refused by the test';
    END $$`);
  await retryOnDeadlock(() =>
    sequelize.query(`
    CREATE TRIGGER ${name} BEFORE INSERT ON outbox_events FOR EACH ROW
      WHEN ((NEW.payload -> 'data' ->> 'user_id')::int = ${userId})
      EXECUTE FUNCTION ${name}()`),
  );
  return async () => {
    await retryOnDeadlock(() => sequelize.query(`DROP TRIGGER ${name} ON outbox_events`));
    await sequelize.query(`DROP FUNCTION ${name}()`);
  };
}

test('logout whose event cannot be recorded → 5xx and the token is not revoked (no half-done change)', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  const allow = await refuseOutboxInsertsAbout(user.id);
  t.teardown(allow);

  const response = await fetch(`${ctx.service.baseUrl}/logout`, { method: 'POST', headers: bearer(token) });

  t.true(response.status >= 500, `status ${response.status}`);
  t.is(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const [revocations] = await ctx.service.sequelize.query<{ count: string }>(
    'SELECT count(*) AS count FROM revoked_tokens WHERE jti = :jti',
    { replacements: { jti: claimsOf(token).jti }, type: QueryTypes.SELECT },
  );
  t.is(Number(revocations?.count), 0);
  const validation = (await (await postJson(ctx.service.baseUrl, '/validate-token', { token })).json()) as {
    valid: boolean;
  };
  t.true(validation.valid, 'the token still works: the revocation was rolled back');
});

test('deactivation whose event cannot be recorded → 5xx and the account stays active', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  const allow = await refuseOutboxInsertsAbout(user.id);
  t.teardown(allow);

  const response = await fetch(`${ctx.service.baseUrl}/users/me`, {
    method: 'PATCH',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify({ is_active: false }),
  });

  t.true(response.status >= 500, `status ${response.status}`);
  t.true((await ctx.service.users.findById(user.id))?.isActive);
});
