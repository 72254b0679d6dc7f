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
    amqp: { url: 'amqp://guest:guest@localhost:5672' },
    rpc: { queue: AUTH_VALIDATE_TOKEN_QUEUE, timeoutMs: 3000, maxPending: 10_000 },
    log: { level: 'info' },
  });
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

test('loadConfig → every bad variable named in one line', (t) => {
  const error = t.throws(
    () => loadConfig({ PORT: 'eighty', AUTH_RPC_TIMEOUT_MS: '0', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' }),
    { instanceOf: ConfigError },
  );

  t.notRegex(error.message, /\n/);
  for (const name of ['PORT', 'AUTH_RPC_TIMEOUT_MS', 'DATABASE_URL', 'LOG_LEVEL'])
    t.regex(error.message, new RegExp(name));
});

test('loadConfig → the result is frozen all the way down', (t) => {
  const config = loadConfig({});

  t.true(Object.isFrozen(config));
  t.true(Object.isFrozen(config.rpc));
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
