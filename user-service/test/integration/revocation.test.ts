import test from 'ava';
import { QueryTypes } from 'sequelize';

import { RevokedTokenRepository } from '../../src/repositories/revoked-token.repository';
import { forgeToken, loginToken, postJson, registerUser } from '../helpers/factories';
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

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function validate(token: string) {
  const response = await postJson(ctx.service.baseUrl, '/validate-token', { token });
  return (await response.json()) as { valid: boolean; reason?: string };
}

async function revokedRows(jtiOwner: number): Promise<number> {
  const [row] = await ctx.service.sequelize.query<{ count: string }>(
    'SELECT count(*) AS count FROM revoked_tokens WHERE user_id = :id',
    { replacements: { id: jtiOwner }, type: QueryTypes.SELECT },
  );
  return Number(row?.count ?? 0);
}

/** Events in the outbox about `userId` (a revocation or a deactivation). */
async function outboxRowsAbout(userId: number): Promise<number> {
  const [row] = await ctx.service.sequelize.query<{ count: string }>(
    "SELECT count(*) AS count FROM outbox_events WHERE (payload -> 'data' ->> 'user_id')::int = :id",
    { replacements: { id: userId }, type: QueryTypes.SELECT },
  );
  return Number(row?.count ?? 0);
}

test('POST /logout → 204; the token is then refused as revoked over HTTP and RPC; other tokens still work', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  const other = await loginToken(ctx.service.baseUrl, user);

  const response = await fetch(`${ctx.service.baseUrl}/logout`, { method: 'POST', headers: bearer(token) });

  t.is(response.status, 204);
  t.is(await revokedRows(user.id), 1);
  t.is(await outboxRowsAbout(user.id), 1, 'its auth.token_revoked event');
  t.like(await validate(token), { valid: false, reason: 'revoked' });
  t.deepEqual((await probe.call({ token })).body, { valid: false, reason: 'revoked' });
  t.like(await validate(other), { valid: true });
});

test('POST /logout twice → the second is 401 (the token is already revoked)', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  t.is((await fetch(`${ctx.service.baseUrl}/logout`, { method: 'POST', headers: bearer(token) })).status, 204);

  const again = await fetch(`${ctx.service.baseUrl}/logout`, { method: 'POST', headers: bearer(token) });

  t.is(again.status, 401);
  t.regex(again.headers.get('www-authenticate') ?? '', /^Bearer/);
});

test('POST /logout without a token or with a forged one → 401, nothing stored', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  // Forged for a real user (their id and name), only the signature is wrong.
  const forgedToken = forgeToken({
    sub: user.id,
    username: user.username,
    secret: 'some-other-secret-that-is-long-enough-000',
  });

  const noToken = await fetch(`${ctx.service.baseUrl}/logout`, { method: 'POST' });
  const forged = await fetch(`${ctx.service.baseUrl}/logout`, { method: 'POST', headers: bearer(forgedToken) });

  t.is(noToken.status, 401);
  t.is(forged.status, 401);
  t.is(await revokedRows(user.id), 0, 'no revocation stored');
  t.is(await outboxRowsAbout(user.id), 0, 'no event recorded');
  t.like(await validate(token), { valid: true }, 'the user’s real token still works');
});

test('POST /revoke (RFC 7009) → revokes one of the caller’s own tokens', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const caller = await loginToken(ctx.service.baseUrl, user);
  const target = await loginToken(ctx.service.baseUrl, user);

  const response = await fetch(`${ctx.service.baseUrl}/revoke`, {
    method: 'POST',
    headers: { ...bearer(caller), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: target, token_type_hint: 'access_token' }),
  });

  t.is(response.status, 200);
  t.deepEqual(await response.json(), {});
  t.like(await validate(target), { valid: false, reason: 'revoked' });
  t.like(await validate(caller), { valid: true });
});

test('POST /revoke → 200 and nothing revoked for another user’s token or garbage', async (t) => {
  const alice = await registerUser(ctx.service.baseUrl);
  const bob = await registerUser(ctx.service.baseUrl);
  const aliceToken = await loginToken(ctx.service.baseUrl, alice);
  const bobToken = await loginToken(ctx.service.baseUrl, bob);

  for (const token of [bobToken, 'not-a-token']) {
    const response = await postJson(ctx.service.baseUrl, '/revoke', { token }, bearer(aliceToken));
    t.is(response.status, 200);
  }
  t.like(await validate(bobToken), { valid: true });
  t.is(await revokedRows(bob.id), 0);
});

test('POST /revoke → 422 without a token, 415 for a text body', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  t.is((await postJson(ctx.service.baseUrl, '/revoke', {}, bearer(token))).status, 422);
  const text = await fetch(`${ctx.service.baseUrl}/revoke`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'text/plain' },
    body: 'token=x',
  });
  t.is(text.status, 415);
});

test('PATCH /users/me { is_active: false } → 200; every token of the user is refused; login is 401', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const first = await loginToken(ctx.service.baseUrl, user);
  const second = await loginToken(ctx.service.baseUrl, user);

  const response = await fetch(`${ctx.service.baseUrl}/users/me`, {
    method: 'PATCH',
    headers: { ...bearer(first), 'content-type': 'application/json' },
    body: JSON.stringify({ is_active: false }),
  });

  t.is(response.status, 200);
  t.like(await response.json(), { id: user.id, is_active: false });
  t.like(await validate(first), { valid: false, reason: 'user_inactive' });
  t.deepEqual((await probe.call({ token: second })).body, { valid: false, reason: 'user_inactive' });
  const login = await postJson(ctx.service.baseUrl, '/login', { username: user.username, password: user.password });
  t.is(login.status, 401);
});

test('PATCH /users/me → 422 for anything but { is_active: false }, and nothing changes', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  for (const body of [{ is_active: true }, { is_active: 'false' }, { username: 'renamed' }, {}]) {
    const response = await fetch(`${ctx.service.baseUrl}/users/me`, {
      method: 'PATCH',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    t.is(response.status, 422, JSON.stringify(body));
  }
  t.like(await validate(token), { valid: true });
});

test('purgeExpired → forgets revocations of expired tokens only', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const repository = new RevokedTokenRepository();
  const past = new Date(Date.now() - 60_000);
  const future = new Date(Date.now() + 60_000);
  await repository.revoke({ jti: '6f1e0c52-3b0a-4a8e-9a57-5d0c6c1f0a11', userId: user.id, expiresAt: past });
  await repository.revoke({ jti: '6f1e0c52-3b0a-4a8e-9a57-5d0c6c1f0a12', userId: user.id, expiresAt: future });
  await repository.revoke({ jti: '6f1e0c52-3b0a-4a8e-9a57-5d0c6c1f0a12', userId: user.id, expiresAt: future });

  t.true((await repository.purgeExpired()) >= 1);
  t.is(await revokedRows(user.id), 1);
});
