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

test('loadConfig → the result is frozen all the way down', (t) => {
  const config = loadConfig({});

  t.true(Object.isFrozen(config));
  t.true(Object.isFrozen(config.rpc));
});
