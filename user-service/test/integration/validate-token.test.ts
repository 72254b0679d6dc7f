import test from 'ava';

import { forgeToken, loginToken, postJson, registerUser, unsignedToken } from '../helpers/factories';
import { useUserService } from '../helpers/use-user-service';

const ctx = useUserService();

async function validate(token: string) {
  const response = await postJson(ctx.service.baseUrl, '/validate-token', { token });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('POST /validate-token → valid for a fresh login token, naming the user', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);

  t.deepEqual(await validate(token), {
    status: 200,
    body: { valid: true, username: user.username, user_id: user.id, message: 'The token is valid.' },
  });
});

const invalidCases: [string, () => Promise<string> | string, string][] = [
  ['an expired token', () => forgeToken({ expiresInSeconds: -60 }), 'expired'],
  [
    'a token signed with another key',
    () => forgeToken({ secret: 'another-secret-of-sufficient-length-1234' }),
    'bad_signature',
  ],
  ['an unsigned (alg: none) token', () => unsignedToken({ sub: '1', username: 'x' }), 'bad_signature'],
  ['an HS512 token made with our own key', () => forgeToken({ algorithm: 'HS512' }), 'bad_signature'],
  ['a token for another audience', () => forgeToken({ claims: { aud: 'elsewhere' } }), 'malformed'],
  ['a string that is not a JWT', () => 'not-a-jwt', 'malformed'],
  ['a token for a user who does not exist', () => forgeToken({ sub: 2_000_000_000 }), 'user_not_found'],
];

for (const [name, makeToken, reason] of invalidCases) {
  test(`POST /validate-token → invalid (${reason}) for ${name}`, async (t) => {
    const { status, body } = await validate(await makeToken());
    t.is(status, 200);
    t.like(body, { valid: false, username: null, reason });
    t.is(typeof body.message, 'string');
  });
}

test('POST /validate-token → a tampered payload is a bad signature', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const [header, payload, signature] = (await loginToken(ctx.service.baseUrl, user)).split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
  const tampered = Buffer.from(JSON.stringify({ ...claims, username: 'admin' })).toString('base64url');

  t.like((await validate(`${header}.${tampered}.${signature}`)).body, { valid: false, reason: 'bad_signature' });
});

test('POST /validate-token → invalid (user_inactive) once the user is deactivated', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  await ctx.service.users.update(user.id, { isActive: false });

  t.like((await validate(token)).body, { valid: false, reason: 'user_inactive' });
});

test('POST /validate-token → invalid (user_not_found) once the user is deleted', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const token = await loginToken(ctx.service.baseUrl, user);
  await ctx.service.users.delete(user.id);

  t.like((await validate(token)).body, { valid: false, reason: 'user_not_found' });
});

test('POST /validate-token → 422 when the token is missing or not a string', async (t) => {
  for (const body of [{}, { token: 42 }, { token: '' }]) {
    const response = await postJson(ctx.service.baseUrl, '/validate-token', body);
    t.is(response.status, 422, JSON.stringify(body));
  }
});
