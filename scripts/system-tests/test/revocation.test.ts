import test, { type ExecutionContext } from 'ava';

import { metricSample, TestEnvironment } from '@shop/test-harness';

import {
  EventTap,
  eventually,
  rpcCallsSent,
  startProductInstance,
  startSystem,
  type RunningSystem,
  type ServiceProcess,
} from '../src';

/**
 * How long a revoked token may stay accepted before the test fails: a generous limit, far under
 * the cache TTL below, so only the revocation event can end the cached answer in time. How fast
 * it reaches every instance is a figure the tests log, not a bound they assert.
 */
const REVOCATION_DEADLINE_MS = 10_000;

/** A cache TTL far longer than any test: only the revocation events can end a cached answer. */
const LONG_CACHE_TTL_MS = String(5 * 60 * 1000);

let env: TestEnvironment | undefined;
let system: RunningSystem | undefined;
let second: ServiceProcess | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
  system = await startSystem(env, { product: { AUTH_CACHE_TTL_MS: LONG_CACHE_TTL_MS } });
  second = await startProductInstance(env, system, { AUTH_CACHE_TTL_MS: LONG_CACHE_TTL_MS });
});

test.after.always(async () => {
  await second?.stop();
  await system?.stop();
  await env?.close();
});

function context(): { env: TestEnvironment; system: RunningSystem; instances: string[] } {
  if (!env || !system || !second) throw new Error('the system has not started');
  return { env, system, instances: [system.product.baseUrl, second.baseUrl] };
}

let users = 0;

/** Registers a fresh user and logs in; returns the token and the user's id. */
async function newUser(userUrl: string): Promise<{ token: string; userId: number }> {
  users += 1;
  const credentials = { username: `revocation_${users}`, password: 'revocation-password-1' };
  const headers = { 'content-type': 'application/json' };
  const registered = await fetch(`${userUrl}/register`, { method: 'POST', headers, body: JSON.stringify(credentials) });
  const { id } = (await registered.json()) as { id: number };
  return { token: await login(userUrl, credentials), userId: id };
}

async function login(userUrl: string, credentials: { username: string; password: string }): Promise<string> {
  const response = await fetch(`${userUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(credentials),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

function createProduct(baseUrl: string, token: string, name = 'cached-write'): Promise<Response> {
  return fetch(`${baseUrl}/products`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name, price: 2.5, quantity: 1 }),
  });
}

/** Validations this product-service's cache dropped because an auth event evicted the user. */
function revocationEvictions(baseUrl: string): Promise<number> {
  return metricSample(baseUrl, 'auth_cache_evictions_total', { reason: 'revocation' });
}

const REVOKED = 'The bearer token has been revoked.';
const INACTIVE = 'The user of this token is inactive.';

/**
 * Writes with `token` on `baseUrl` until one is refused: a 401 whose detail is `detail`, as
 * user-service judged it. Resolves with the ms from `since` to that answer (a figure to log).
 * Until then every write must be a 201 (the cached answer), never a 5xx; fails after
 * {@link REVOCATION_DEADLINE_MS}.
 */
async function msUntilRefused(
  t: ExecutionContext,
  baseUrl: string,
  token: string,
  since: number,
  detail: string,
): Promise<number> {
  let refusedAt = 0;
  await eventually(
    async () => {
      const response = await createProduct(baseUrl, token, 'after-revocation');
      if (response.status !== 401) {
        t.is(response.status, 201, `${baseUrl}: unexpected ${response.status}`);
        return false;
      }
      refusedAt = performance.now();
      t.like(await response.json(), { detail }, baseUrl);
      return true;
    },
    REVOCATION_DEADLINE_MS,
    `${baseUrl} refusing the revoked token`,
    5,
  );
  return refusedAt - since;
}

/** Fills both instances' caches with `token` and checks that the next writes are cache hits. */
async function warmBothCaches(t: ExecutionContext, instances: string[], token: string): Promise<void> {
  for (const baseUrl of instances) {
    t.is((await createProduct(baseUrl, token)).status, 201);
    const before = await rpcCallsSent(baseUrl);
    for (let i = 0; i < 5; i += 1) t.is((await createProduct(baseUrl, token)).status, 201);
    t.is(await rpcCallsSent(baseUrl), before, `${baseUrl}: cached writes sent no RPC`);
  }
}

test.serial('a cache hit sends nothing to RabbitMQ: 5 writes after the first, 0 RPCs', async (t) => {
  const { system: running, instances } = context();
  const { token } = await newUser(running.user.baseUrl);
  const hitsBefore = await metricSample(instances[0] ?? '', 'auth_cache_hits_total');
  await warmBothCaches(t, instances, token);
  t.true((await metricSample(instances[0] ?? '', 'auth_cache_hits_total')) >= hitsBefore + 5);
});

test.serial(
  'logout → the auth event evicts the cached token on both product-services, which then refuse it (cache TTL 5 min)',
  async (t) => {
    const { system: running, instances } = context();
    const { token } = await newUser(running.user.baseUrl);
    await warmBothCaches(t, instances, token);
    const evictionsBefore = await Promise.all(instances.map(revocationEvictions));

    const logout = await fetch(`${running.user.baseUrl}/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    t.is(logout.status, 204);
    const loggedOutAt = performance.now();

    const delays = await Promise.all(
      instances.map((baseUrl) => msUntilRefused(t, baseUrl, token, loggedOutAt, REVOKED)),
    );
    t.log(`refused after ${delays.map((ms) => `${ms.toFixed(1)} ms`).join(' and ')} on the two instances`);
    const evictionsAfter = await Promise.all(instances.map(revocationEvictions));
    instances.forEach((baseUrl, i) => {
      t.true(evictionsAfter[i]! > evictionsBefore[i]!, `${baseUrl}: the cached validation was evicted by the event`);
    });
    t.is((await createProduct(instances[0] ?? '', token)).status, 401, 'and stays refused');
  },
);

test.serial(
  'deactivation → the auth event evicts every cached token of the user on both instances, which then refuse them',
  async (t) => {
    const { system: running, instances } = context();
    const { token } = await newUser(running.user.baseUrl);
    const credentials = { username: `revocation_${users}`, password: 'revocation-password-1' };
    const otherToken = await login(running.user.baseUrl, credentials);
    await warmBothCaches(t, instances, token);
    await warmBothCaches(t, instances, otherToken);
    const evictionsBefore = await Promise.all(instances.map(revocationEvictions));

    const deactivated = await fetch(`${running.user.baseUrl}/users/me`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ is_active: false }),
    });
    t.is(deactivated.status, 200);
    const deactivatedAt = performance.now();

    const delays = await Promise.all(
      instances.flatMap((baseUrl) =>
        [token, otherToken].map((each) => msUntilRefused(t, baseUrl, each, deactivatedAt, INACTIVE)),
      ),
    );
    t.log(`refused after ${delays.map((ms) => `${ms.toFixed(1)} ms`).join(', ')}`);
    const evictionsAfter = await Promise.all(instances.map(revocationEvictions));
    instances.forEach((baseUrl, i) => {
      t.true(
        evictionsAfter[i]! >= evictionsBefore[i]! + 2,
        `${baseUrl}: both cached validations were evicted by the event`,
      );
    });
  },
);

test.serial('100 concurrent writes with one fresh token → one RPC, 100 products', async (t) => {
  const { system: running, instances } = context();
  const baseUrl = instances[0] ?? '';
  const { token } = await newUser(running.user.baseUrl);
  const before = await rpcCallsSent(baseUrl);

  const statuses = await Promise.all(
    Array.from({ length: 100 }, (_, i) => createProduct(baseUrl, token, `burst-${i}`).then((r) => r.status)),
  );

  t.deepEqual(
    statuses.filter((status) => status !== 201),
    [],
  );
  t.is(await rpcCallsSent(baseUrl), before + 1);
});

test.serial('product writes → product.created/updated/deleted on product.events, each once', async (t) => {
  const { env: environment, system: running, instances } = context();
  const tap = await EventTap.open(
    environment.amqpUrl,
    running.exchanges.product,
    environment.queueName('system.product-events'),
  );
  t.teardown(() => tap.close());
  await tap.consume();
  const { token, userId } = await newUser(running.user.baseUrl);
  const baseUrl = instances[1] ?? '';
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  const created = (await (await createProduct(baseUrl, token, 'evented')).json()) as { id: number };
  const updated = await fetch(`${baseUrl}/products/${created.id}`, {
    method: 'PUT',
    headers: auth,
    body: JSON.stringify({ quantity: 9 }),
  });
  const updatedBody = (await updated.json()) as Record<string, unknown>;
  t.is((await fetch(`${baseUrl}/products/${created.id}`, { method: 'DELETE', headers: auth })).status, 204);

  const events = (await tap.waitForDistinct(3)).filter(
    (event) => (event.body.data as { product: { id: number } }).product.id === created.id,
  );
  t.deepEqual(
    events.map((event) => event.routingKey),
    ['product.created', 'product.updated', 'product.deleted'],
  );
  for (const event of events) {
    t.is(event.messageId, event.body.id);
    t.is(event.body.data.actor_id, userId);
  }
  t.deepEqual(events[1]?.body.data.product, updatedBody);
  t.is(tap.deliveries.length, tap.distinct().length, 'no event was delivered twice');
});
