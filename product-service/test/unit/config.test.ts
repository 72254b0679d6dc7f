import test from 'ava';

import { AUTH_VALIDATE_TOKEN_QUEUE } from '@shop/shared-contracts';
import { ConfigError } from '@shop/shared-runtime';

import { loadConfig } from '../../src/config';

test('loadConfig → the contract defaults for an empty environment', (t) => {
  const config = loadConfig({});

  t.like(config, {
    env: 'development',
    http: { port: 8002, bodyLimitBytes: 102_400 },
    db: { url: 'postgres://postgres@localhost:5432/product_service_db', migrateOnStart: true },
    amqp: { urls: ['amqp://guest:guest@localhost:5672'] },
    rpc: { queue: AUTH_VALIDATE_TOKEN_QUEUE, timeoutMs: 3000, maxPending: 10_000 },
    log: { level: 'info' },
    idempotency: { purgeIntervalMs: 600_000 },
  });
});

test('loadConfig → IDEMPOTENCY_PURGE_INTERVAL_MS is read, and refused below 1 s or above a day', (t) => {
  t.is(loadConfig({ IDEMPOTENCY_PURGE_INTERVAL_MS: '60000' }).idempotency.purgeIntervalMs, 60_000);
  for (const bad of ['999', '86400001', 'soon']) {
    const error = t.throws(() => loadConfig({ IDEMPOTENCY_PURGE_INTERVAL_MS: bad }), { instanceOf: ConfigError });
    t.regex(error.message, /IDEMPOTENCY_PURGE_INTERVAL_MS/);
  }
});

test('loadConfig → reads and converts the variables', (t) => {
  const config = loadConfig({
    PORT: '9000',
    AUTH_RPC_TIMEOUT_MS: '750',
    AUTH_RPC_QUEUE: 'auth.validate_token.staging',
    MIGRATE_ON_START: 'false',
  });

  t.like(config, {
    http: { port: 9000 },
    rpc: { timeoutMs: 750, queue: 'auth.validate_token.staging' },
    db: { migrateOnStart: false },
  });
});

test('loadConfig → AMQP_URL takes a comma-separated list of cluster nodes, in order', (t) => {
  const config = loadConfig({ AMQP_URL: 'amqp://u:p@rabbit-0:5672/shop, amqp://u:p@rabbit-1:5672/shop,' });
  t.deepEqual(config.amqp.urls, ['amqp://u:p@rabbit-0:5672/shop', 'amqp://u:p@rabbit-1:5672/shop']);
});

test('loadConfig → a bad AMQP_URL entry is named without its password', (t) => {
  const error = t.throws(() => loadConfig({ AMQP_URL: 'amqp://u:secret@rabbit-0,http://u:secret@rabbit-1' }), {
    instanceOf: ConfigError,
  });
  t.regex(error.message, /AMQP_URL must be amqp:\/\/ or amqps:\/\/ URLs/);
  t.regex(error.message, /rabbit-1/);
  t.notRegex(error.message, /secret/);
  t.throws(() => loadConfig({ AMQP_URL: ' , ' }), { message: /AMQP_URL must list at least one/ });
});

test('loadConfig → every bad variable named in one line', (t) => {
  const error = t.throws(
    () => loadConfig({ PORT: 'eighty', AUTH_RPC_TIMEOUT_MS: '0', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' }),
    { instanceOf: ConfigError },
  );

  t.notRegex(error.message, /\n/);
  for (const name of ['PORT', 'AUTH_RPC_TIMEOUT_MS', 'DATABASE_URL', 'LOG_LEVEL'])
    t.regex(error.message, new RegExp(name));
});

test("loadConfig → USER_SERVICE_PUBLIC_URL: user-service's local URL by default, any http(s) URL without its trailing slash", (t) => {
  t.is(loadConfig({}).docs.userServicePublicUrl, 'http://localhost:8001');
  t.is(
    loadConfig({ USER_SERVICE_PUBLIC_URL: 'https://shop.example/users/' }).docs.userServicePublicUrl,
    'https://shop.example/users',
  );
  t.throws(() => loadConfig({ USER_SERVICE_PUBLIC_URL: 'ftp://shop.example' }), {
    instanceOf: ConfigError,
    message: /USER_SERVICE_PUBLIC_URL/,
  });
});

test('loadConfig → CORS is off by default', (t) => {
  t.deepEqual(loadConfig({}).http.corsOrigins, []);
});

test('loadConfig → the result is frozen all the way down', (t) => {
  const config = loadConfig({});

  t.true(Object.isFrozen(config));
  t.true(Object.isFrozen(config.rpc));
});

test('loadConfig → broker identities: replies and auth events believed from the AMQP_URL’s own user by default (all-guest works)', (t) => {
  t.deepEqual(loadConfig({}).amqp.identities, {
    own: 'guest',
    userService: 'guest',
    productService: 'guest',
    separated: false,
  });
});

test('loadConfig → broker identities of a deployment; PRODUCT_SERVICE_BROKER_USER must be the AMQP_URL’s user', (t) => {
  const env = { AMQP_URL: 'amqp://product-service:pw@rabbitmq/shop', USER_SERVICE_BROKER_USER: 'user-service' };

  t.like(loadConfig(env).amqp.identities, { own: 'product-service', userService: 'user-service', separated: true });
  t.throws(() => loadConfig({ ...env, PRODUCT_SERVICE_BROKER_USER: 'guest' }), {
    instanceOf: ConfigError,
    message: /PRODUCT_SERVICE_BROKER_USER is guest but AMQP_URL logs in as product-service/,
  });
});

test('loadConfig → load shedding: the measured defaults, 0 turns a limit off, a negative or fractional limit stops the start', (t) => {
  t.deepEqual(loadConfig({}).loadShedding, { maxInFlight: 128, maxEventLoopDelayMs: 1000 });
  t.deepEqual(loadConfig({ LOAD_SHED_MAX_IN_FLIGHT: '0', LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '0' }).loadShedding, {
    maxInFlight: 0,
    maxEventLoopDelayMs: 0,
  });
  const error = t.throws(
    () => loadConfig({ LOAD_SHED_MAX_IN_FLIGHT: '-1', LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '2.5' }),
    { instanceOf: ConfigError },
  );
  t.regex(error.message, /LOAD_SHED_MAX_IN_FLIGHT/);
  t.regex(error.message, /LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS/);
});
