import test from 'ava';
import { QueryTypes } from 'sequelize';

import { problemDetailsSchema, publicUserSchema, validateMessage, type ProblemDetails } from '@shop/shared-contracts';
import { postJson, registerUser, uniqueUsername } from '../helpers/factories';
import { useUserService } from '../helpers/use-user-service';

const ctx = useUserService();

async function storedUsers(username: string) {
  return ctx.service.sequelize.query<{ username: string; hashed_password: string }>(
    'SELECT username, hashed_password FROM users WHERE lower(username) = lower(:username)',
    { replacements: { username }, type: QueryTypes.SELECT },
  );
}

async function expectProblem(t: import('ava').ExecutionContext, response: Response, status: number) {
  t.is(response.status, status);
  t.is(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const body = (await response.json()) as ProblemDetails;
  t.true(validateMessage(problemDetailsSchema, body).ok, JSON.stringify(body));
  t.is(body.status, status);
  t.is(body.request_id, response.headers.get('x-request-id') ?? '');
  return body;
}

test('POST /register → 201 with the public user; the password is stored only as a bcrypt hash', async (t) => {
  const username = uniqueUsername('alice');
  const response = await postJson(ctx.service.baseUrl, '/register', { username, password: 'secret-password' });

  t.is(response.status, 201);
  const body = (await response.json()) as Record<string, unknown>;
  t.true(validateMessage(publicUserSchema, body).ok);
  t.like(body, { username, is_active: true });
  const [stored] = await storedUsers(username);
  t.regex(stored!.hashed_password, /^\$2b\$04\$/);
  t.false(JSON.stringify(body).includes('secret-password'));
});

test('POST /register → 409 for a name taken in another letter case, and stores nothing', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const response = await postJson(ctx.service.baseUrl, '/register', {
    username: user.username.toUpperCase(),
    password: 'another-password',
  });

  const problem = await expectProblem(t, response, 409);
  t.is(problem.type, 'urn:problem-type:conflict');
  t.is((await storedUsers(user.username)).length, 1);
});

test('POST /register → 422 listing every bad field, and stores nothing', async (t) => {
  const username = `${uniqueUsername()}!`;
  const response = await postJson(ctx.service.baseUrl, '/register', { username, password: '123', role: 'admin' });

  const problem = await expectProblem(t, response, 422);
  t.deepEqual(
    problem.errors?.map((error) => [error.path, error.type]),
    [
      ['body.username', 'string.pattern.base'],
      ['body.password', 'password.tooShort'],
      ['body.role', 'object.unknown'],
    ],
  );
  t.is((await storedUsers(username)).length, 0);
});

test('POST /register → username lengths 3 and 50 pass, 2 and 51 are 422', async (t) => {
  const stem = uniqueUsername('b').slice(0, 12);
  const sizes = { 2: 422, 3: 201, 50: 201, 51: 422 } as const;
  for (const [size, status] of Object.entries(sizes)) {
    const username = size === '2' || size === '3' ? stem.slice(0, Number(size)) : stem.padEnd(Number(size), 'x');
    const response = await postJson(ctx.service.baseUrl, '/register', { username, password: 'secret-password' });
    t.is(response.status, status, `length ${size}`);
  }
});

test('POST /register → a 72-byte password passes; 73 bytes is 422, never truncated', async (t) => {
  const ok = await postJson(ctx.service.baseUrl, '/register', { username: uniqueUsername(), password: 'é'.repeat(36) });
  t.is(ok.status, 201);

  const username = uniqueUsername();
  const tooLong = await postJson(ctx.service.baseUrl, '/register', { username, password: `${'é'.repeat(36)}x` });
  const problem = await expectProblem(t, tooLong, 422);
  t.is(problem.errors?.[0]?.type, 'password.tooLong');
  t.is((await storedUsers(username)).length, 0);
});

test('POST /register → 400 for a body that is not JSON', async (t) => {
  const response = await fetch(`${ctx.service.baseUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"username": "x",',
  });
  const problem = await expectProblem(t, response, 400);
  t.is(problem.type, 'urn:problem-type:malformed-request');
});

test('POST /register → 415 for a body that is not JSON-typed', async (t) => {
  const username = uniqueUsername();
  const response = await fetch(`${ctx.service.baseUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({ username, password: 'secret-password' }),
  });
  await expectProblem(t, response, 415);
  t.is((await storedUsers(username)).length, 0);
});

test('POST /register → 413 for a body over the 100 kB limit', async (t) => {
  const response = await postJson(ctx.service.baseUrl, '/register', { username: 'x'.repeat(110_000), password: 'p' });
  const problem = await expectProblem(t, response, 413);
  t.is(problem.type, 'urn:problem-type:payload-too-large');
});

test('POST /register → 422 naming both fields for an empty body', async (t) => {
  const response = await fetch(`${ctx.service.baseUrl}/register`, { method: 'POST' });
  const problem = await expectProblem(t, response, 422);
  t.deepEqual(
    problem.errors?.map((error) => error.path),
    ['body.username', 'body.password'],
  );
});
