import test from 'ava';

import { ConfigError, loadConfig } from '../../src/config';

test('loadConfig → the contract defaults, with a generated secret outside production', (t) => {
  const config = loadConfig({});
  t.like(config, {
    env: 'development',
    http: { port: 8001, bodyLimitBytes: 102_400 },
    db: { url: 'postgres://postgres@localhost:5432/user_service_db', migrateOnStart: true },
    amqp: { url: 'amqp://guest:guest@localhost:5672', rpcQueue: 'auth.validate_token' },
    auth: { algorithm: 'HS256', accessTokenTtlSeconds: 1800, bcryptRounds: 12, secretKeyGenerated: true },
    log: { level: 'info' },
  });
  t.true(config.auth.secretKey.length >= 32);
  t.true(Object.isFrozen(config.auth));
});

test('loadConfig → production refuses to start without a SECRET_KEY of 32+ characters', (t) => {
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), {
    instanceOf: ConfigError,
    message: /SECRET_KEY is required/,
  });
  t.throws(() => loadConfig({ NODE_ENV: 'production', SECRET_KEY: 'short' }), {
    message: /SECRET_KEY length must be at least 32/,
  });
  t.like(loadConfig({ NODE_ENV: 'production', SECRET_KEY: 'k'.repeat(32) }).auth, { secretKeyGenerated: false });
});

test('loadConfig → every bad variable is named in one line', (t) => {
  const error = t.throws(() =>
    loadConfig({ PORT: 'eighty', ALGORITHM: 'none', MIGRATE_ON_START: 'maybe', DATABASE_URL: 'mysql://x' }),
  );
  t.notRegex(error.message, /\n/);
  for (const name of ['PORT', 'ALGORITHM', 'MIGRATE_ON_START', 'DATABASE_URL'])
    t.regex(error.message, new RegExp(name));
});

test('loadConfig → MIGRATE_ON_START=false and RATE_LIMIT_PER_MINUTE=0 are honoured', (t) => {
  const config = loadConfig({ MIGRATE_ON_START: 'false', RATE_LIMIT_PER_MINUTE: '0' });
  t.false(config.db.migrateOnStart);
  t.is(config.rateLimit.perMinute, 0);
});
