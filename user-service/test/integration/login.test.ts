import test from 'ava';

import { accessTokenResponseSchema, validateMessage, type ProblemDetails } from '@shop/shared-contracts';
import { postJson, registerUser, uniqueUsername } from '../helpers/factories';
import { useUserService } from '../helpers/use-user-service';

const ctx = useUserService();

function loginForm(fields: Record<string, string>) {
  return fetch(`${ctx.service.baseUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}

test('POST /login (OAuth2 form) → 200 with a bearer token whose claims name the user', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const response = await loginForm({ username: user.username, password: user.password, grant_type: 'password' });

  t.is(response.status, 200);
  t.is(response.headers.get('cache-control'), 'no-store');
  const body = (await response.json()) as { access_token: string };
  t.true(validateMessage(accessTokenResponseSchema, body).ok);
  t.like(body, { token_type: 'bearer', expires_in: 1800 });
  const check = ctx.service.tokens.verify(body.access_token);
  t.like(check, { ok: true, userId: user.id, username: user.username });
});

test('POST /login (JSON) → 200, and the username matches in any letter case', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const response = await postJson(ctx.service.baseUrl, '/login', {
    username: user.username.toUpperCase(),
    password: user.password,
  });
  t.is(response.status, 200);
});

test('POST /login → the same 401 with WWW-Authenticate for a wrong password and an unknown user', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const wrongPassword = await loginForm({ username: user.username, password: 'not-the-password' });
  const unknownUser = await loginForm({ username: uniqueUsername('ghost'), password: user.password });

  for (const response of [wrongPassword, unknownUser]) {
    t.is(response.status, 401);
    t.is(response.headers.get('www-authenticate'), 'Bearer');
  }
  const [a, b] = (await Promise.all([wrongPassword.json(), unknownUser.json()])) as ProblemDetails[];
  t.deepEqual({ ...a, request_id: '' }, { ...b, request_id: '' });
});

test('POST /login → 401 for a deactivated user with the right password', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  await ctx.service.users.update(user.id, { isActive: false });
  const response = await loginForm({ username: user.username, password: user.password });
  t.is(response.status, 401);
});

test('POST /login → 422 listing both missing fields', async (t) => {
  const response = await loginForm({ grant_type: 'password' });
  t.is(response.status, 422);
  const problem = (await response.json()) as ProblemDetails;
  t.deepEqual(
    problem.errors?.map((error) => error.path),
    ['body.username', 'body.password'],
  );
});

test('POST /login → 422 for a password over 72 bytes (bcrypt would compare only its prefix)', async (t) => {
  const user = await registerUser(ctx.service.baseUrl, { password: 'p'.repeat(72) });
  const response = await loginForm({ username: user.username, password: `${'p'.repeat(72)}extra` });
  t.is(response.status, 422);
});

test('POST /login → 415 for a multipart body', async (t) => {
  const form = new FormData();
  form.set('username', 'x');
  form.set('password', 'y');
  const response = await fetch(`${ctx.service.baseUrl}/login`, { method: 'POST', body: form });
  t.is(response.status, 415);
});
