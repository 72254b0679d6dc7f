import test from 'ava';

import { metricSample, TestEnvironment } from '@shop/test-harness';

import { eventually, startSystem, type RunningSystem } from '../src';

let env: TestEnvironment | undefined;
let system: RunningSystem | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
  system = await startSystem(env);
});

test.after.always(async () => {
  await system?.stop();
  await env?.close();
});

function running(): RunningSystem {
  if (!system) throw new Error('the system has not started');
  return system;
}

const json = (body: unknown, token?: string) => ({
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});

// The walkthrough of the original README, against both real processes over the real broker.
// Serial: the tests share one system, and the first counts every product in it.
test.serial('register → login → create → list → get → update → delete → 404', async (t) => {
  const { user, product } = running();

  const registered = await fetch(`${user.baseUrl}/register`, {
    method: 'POST',
    ...json({ username: 'e2e_alice', password: 'wonderland-42' }),
  });
  t.is(registered.status, 201);
  const alice = (await registered.json()) as { id: number };

  const login = await fetch(`${user.baseUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'username=e2e_alice&password=wonderland-42',
  });
  t.is(login.status, 200);
  const { access_token: token } = (await login.json()) as { access_token: string };

  const created = await fetch(`${product.baseUrl}/products`, {
    method: 'POST',
    ...json({ name: 'Laptop', description: 'A fast laptop', price: 999.99, quantity: 10 }, token),
  });
  t.is(created.status, 201);
  const laptop = (await created.json()) as { id: number; owner_id: number; price: number };
  t.like(laptop, { name: 'Laptop', price: 999.99, quantity: 10, owner_id: alice.id });

  const list = await fetch(`${product.baseUrl}/products?skip=0&limit=10`);
  t.is(list.status, 200);
  t.is(list.headers.get('x-total-count'), '1');
  t.like(await list.json(), [{ id: laptop.id, name: 'Laptop' }]);

  const got = await fetch(`${product.baseUrl}/products/${laptop.id}`);
  t.like(await got.json(), { id: laptop.id, description: 'A fast laptop' });

  const updated = await fetch(`${product.baseUrl}/products/${laptop.id}`, {
    method: 'PUT',
    ...json({ price: 899.99, quantity: 5 }, token),
  });
  t.is(updated.status, 200);
  t.like(await updated.json(), { name: 'Laptop', price: 899.99, quantity: 5 });

  const deleted = await fetch(`${product.baseUrl}/products/${laptop.id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  });
  t.is(deleted.status, 204);

  const gone = await fetch(`${product.baseUrl}/products/${laptop.id}`);
  t.is(gone.status, 404);
});

test.serial(
  'a write with a forged token → 401 from product-service, decided by user-service over RabbitMQ',
  async (t) => {
    const { user, product } = running();
    // The RPC as each side counted it: product-service sent one request and got "invalid" back,
    // user-service took one and answered "invalid".
    const sent = () => metricSample(product.baseUrl, 'rpc_client_calls_total', { outcome: 'invalid' });
    const judged = () => metricSample(user.baseUrl, 'rpc_server_requests_total', { outcome: 'invalid' });
    const before = { sent: await sent(), judged: await judged() };

    const response = await fetch(`${product.baseUrl}/products`, {
      method: 'POST',
      ...json({ name: 'Forged', price: 1, quantity: 1 }, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl'),
    });
    t.is(response.status, 401);
    t.regex(response.headers.get('www-authenticate') ?? '', /^Bearer/);
    t.is(await sent(), before.sent + 1, 'product-service asked user-service once, and was told "invalid"');
    t.is(await judged(), before.judged + 1, 'user-service judged the token invalid');
  },
);

test.serial('logout on user-service → writes with that token become 401 on product-service, and stay so', async (t) => {
  const { user, product } = running();
  await fetch(`${user.baseUrl}/register`, {
    method: 'POST',
    ...json({ username: 'e2e_carol', password: 'carol-pass-1' }),
  });
  const login = await fetch(`${user.baseUrl}/login`, {
    method: 'POST',
    ...json({ username: 'e2e_carol', password: 'carol-pass-1' }),
  });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const before = await fetch(`${product.baseUrl}/products`, {
    method: 'POST',
    ...json({ name: 'Before logout', price: 1, quantity: 1 }, token),
  });
  t.is(before.status, 201);

  const logout = await fetch(`${user.baseUrl}/logout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  t.is(logout.status, 204);

  // product-service had cached the token's validation: the revocation event evicts it a few
  // ms after the 204, so writes in that window still pass. Wait for the refusal (within a
  // generous 10 s, far below the 30 s cache TTL); how long it took is logged, not asserted.
  const loggedOutAt = performance.now();
  const write = () =>
    fetch(`${product.baseUrl}/products`, {
      method: 'POST',
      ...json({ name: 'After logout', price: 1, quantity: 1 }, token),
    });
  let after = await write();
  await eventually(
    async () => {
      if (after.status === 201) after = await write();
      return after.status !== 201;
    },
    10_000,
    'product-service refusing the logged-out token',
    5,
  );
  t.log(`refused ${(performance.now() - loggedOutAt).toFixed(1)} ms after the logout's 204`);
  t.is(after.status, 401);
  t.like(await after.json(), { detail: 'The bearer token has been revoked.' });
  t.is((await write()).status, 401, 'and stays refused');
});
