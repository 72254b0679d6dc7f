import test from 'ava';

import { call, expectProblem } from '@shop/test-harness';

import { postJson, registerUser } from '../helpers/factories';
import { useUserService } from '../helpers/use-user-service';

// Per-address limiting off, so only the per-username limiter is at work here.
const ctx = useUserService({ RATE_LIMIT_PER_MINUTE: '0', LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE: '3' });

const login = (username: string, password: string) =>
  call(ctx.service.baseUrl, 'POST', '/login', { form: { username, password } });

test('POST /login → 429 with Retry-After after 3 failed logins for one username, even with the right password', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);

  const failures = [];
  for (let i = 0; i < 3; i += 1) failures.push((await login(user.username, 'wrong-password')).status);
  const blocked = await login(user.username, user.password);

  t.deepEqual(failures, [401, 401, 401]);
  const problem = expectProblem(t, blocked, 429);
  t.is(problem.type, 'urn:problem-type:rate-limited');
  t.regex(blocked.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  t.true(Number(blocked.headers.get('retry-after')) <= 60);
});

test('POST /login → the username is counted in any letter case', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  await login(user.username.toUpperCase(), 'wrong-password');
  await login(user.username, 'wrong-password');
  await login(user.username.toUpperCase(), 'wrong-password');

  t.is((await login(user.username, user.password)).status, 429);
});

test('POST /login → successful logins are not counted, and other usernames are not affected', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const neighbour = await registerUser(ctx.service.baseUrl);

  const statuses = [];
  for (let i = 0; i < 5; i += 1) statuses.push((await login(user.username, user.password)).status);
  for (let i = 0; i < 3; i += 1) await login(neighbour.username, 'wrong-password');

  t.deepEqual(statuses, [200, 200, 200, 200, 200]);
  t.is((await login(user.username, user.password)).status, 200);
  t.is((await login(neighbour.username, neighbour.password)).status, 429);
});

test('POST /login → an unknown username is limited the same way: a 429 says nothing about the account', async (t) => {
  const statuses = [];
  for (let i = 0; i < 4; i += 1) statuses.push((await login('no_such_user_x', 'wrong-password')).status);
  t.deepEqual(statuses, [401, 401, 401, 429]);
});

test('POST /register → not limited per username', async (t) => {
  const statuses = [];
  for (let i = 0; i < 5; i += 1) {
    statuses.push((await postJson(ctx.service.baseUrl, '/register', { username: 'same_name', password: 'pw' })).status);
  }
  t.deepEqual(statuses, [422, 422, 422, 422, 422]);
});
