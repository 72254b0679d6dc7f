import test from 'ava';

import { TestEnvironment, call, waitUntil, type BrokerIdentities } from '@shop/test-harness';

import { ServiceProcess, identityEnvironment, waitUntilHealthy } from '../src';

/**
 * product-service started before user-service ever ran, in a vhost of this run where nothing of
 * user-service's exists yet: it may not declare auth.events (it has no configure permission on
 * it), so it waits for its owner and then works without a restart.
 */

/** How long product-service may take to work once user-service is up: generous, as for any "eventually". */
const WORKING_DEADLINE_MS = 30_000;

let env: TestEnvironment | undefined;
let identities: BrokerIdentities | undefined;
const started: ServiceProcess[] = [];

test.before(async () => {
  env = await TestEnvironment.start();
  identities = await env.brokerIdentities();
});

test.after.always(async () => {
  await Promise.all(started.map((service) => service.stop()));
  await env?.close();
});

test('product-service first, then user-service → degraded and waiting (one log line, no crash), then fully working without a restart', async (t) => {
  if (!env || !identities) throw new Error('the environment has not started');
  const separated = identityEnvironment(identities);
  const product = await ServiceProcess.start('product-service', {
    ...separated.product,
    DATABASE_URL: env.databaseUrl(env.reserveDatabaseName('orderproducts')),
  });
  started.push(product);
  await waitUntilHealthy(product.baseUrl);
  await product.waitForLog(/auth-events exchange does not exist yet/);

  const waiting = await call<{ status: string; checks: Record<string, { status: string; error?: string }> }>(
    product.baseUrl,
    'GET',
    '/health',
  );
  t.is(waiting.status, 200, 'degraded is still ready: reads work');
  t.is(waiting.body.status, 'degraded');
  t.like(waiting.body.checks.auth_events, { status: 'down' });
  t.regex(waiting.body.checks.auth_events?.error ?? '', /auth\.events does not exist yet.*user-service/);
  t.like(waiting.body.checks.broker, { status: 'down' });
  t.regex(waiting.body.checks.broker?.error ?? '', /auth\.validate_token does not exist yet.*user-service/);

  const user = await ServiceProcess.start('user-service', {
    ...separated.user,
    DATABASE_URL: env.databaseUrl(env.reserveDatabaseName('orderusers')),
    SECRET_KEY: 'start-order-test-secret-key-of-32-characters-at-least',
    BCRYPT_ROUNDS: '4',
    RATE_LIMIT_PER_MINUTE: '0',
  });
  started.push(user);
  const waitedMs = await waitUntil(
    async () => (await call<{ status: string }>(product.baseUrl, 'GET', '/health')).body.status === 'ok',
    'product-service to consume auth events once user-service declared the exchange',
    { timeoutMs: WORKING_DEADLINE_MS, intervalMs: 200 },
  );
  t.log(`product-service healthy ${Math.round(waitedMs)} ms after user-service started`);

  const credentials = { username: 'start_order', password: 'start-order-password' };
  t.is((await call(user.baseUrl, 'POST', '/register', { json: credentials })).status, 201);
  const token = (await call<{ access_token: string }>(user.baseUrl, 'POST', '/login', { json: credentials })).body
    .access_token;
  const write = () =>
    call(product.baseUrl, 'POST', '/products', { token, json: { name: 'late', price: 1, quantity: 1 } });
  t.is((await write()).status, 201);
  t.is((await call(user.baseUrl, 'POST', '/logout', { token })).status, 204);
  await waitUntil(async () => (await write()).status === 401, 'the logout event to reach product-service', {
    intervalMs: 100,
  });

  t.is(
    product.lines.filter((line) => /auth-events exchange does not exist yet/.test(line.msg)).length,
    1,
    'said once, not once per retry',
  );
  t.true(product.running, 'never crashed');
});
