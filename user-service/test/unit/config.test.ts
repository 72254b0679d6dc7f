import test from 'ava';

import { ConfigError } from '@shop/shared-runtime';

import { loadConfig } from '../../src/config';

test('loadConfig → the contract defaults, with a generated secret outside production', (t) => {
  const config = loadConfig({});
  t.like(config, {
    env: 'development',
    http: { port: 8001, bodyLimitBytes: 102_400 },
    db: { url: 'postgres://postgres@localhost:5432/user_service_db', migrateOnStart: true },
    amqp: {
      urls: ['amqp://guest:guest@localhost:5672'],
      rpcQueue: 'auth.validate_token',
      rpcQueueType: 'quorum',
    },
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

test('loadConfig → AMQP_URL lists cluster nodes; AUTH_RPC_QUEUE_TYPE is quorum or classic', (t) => {
  const config = loadConfig({ AMQP_URL: 'amqp://a:5672,amqps://b:5671', AUTH_RPC_QUEUE_TYPE: 'classic' });
  t.deepEqual(config.amqp.urls, ['amqp://a:5672', 'amqps://b:5671']);
  t.is(config.amqp.rpcQueueType, 'classic');
  t.throws(() => loadConfig({ AUTH_RPC_QUEUE_TYPE: 'stream' }), { message: /AUTH_RPC_QUEUE_TYPE must be one of/ });
});

test('loadConfig → MIGRATE_ON_START=false and RATE_LIMIT_PER_MINUTE=0 are honoured', (t) => {
  const config = loadConfig({ MIGRATE_ON_START: 'false', RATE_LIMIT_PER_MINUTE: '0' });
  t.false(config.db.migrateOnStart);
  t.is(config.rateLimit.perMinute, 0);
});

test("loadConfig → CORS allows product-service's local docs by default in development only; empty turns it off; CORS_ORIGINS lists exact origins", (t) => {
  t.deepEqual(loadConfig({}).http.corsOrigins, ['http://localhost:8002', 'http://127.0.0.1:8002']);
  t.deepEqual(loadConfig({ NODE_ENV: 'test' }).http.corsOrigins, []);
  t.deepEqual(loadConfig({ NODE_ENV: 'production', SECRET_KEY: 'k'.repeat(32) }).http.corsOrigins, []);
  t.deepEqual(loadConfig({ CORS_ORIGINS: '' }).http.corsOrigins, []);
  t.deepEqual(
    loadConfig({ CORS_ORIGINS: 'https://shop.example, http://localhost:3000,https://shop.example' }).http.corsOrigins,
    ['https://shop.example', 'http://localhost:3000'],
  );
});

for (const bad of [
  '*',
  'https://shop.example/',
  'https://shop.example/app',
  'shop.example',
  'ftp://shop.example',
  'null',
]) {
  test(`loadConfig → CORS_ORIGINS=${bad} stops the start with one line naming the variable`, (t) => {
    const error = t.throws(() => loadConfig({ CORS_ORIGINS: `https://ok.example,${bad}` }), {
      instanceOf: ConfigError,
    });
    t.regex(error.message, /CORS_ORIGINS must list exact origins/);
    t.notRegex(error.message, /\n/);
  });
}

test('loadConfig → failed logins per username are limited by default; 0 turns that off', (t) => {
  t.is(loadConfig({}).rateLimit.loginPerUsernamePerMinute, 10);
  t.is(loadConfig({ LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE: '0' }).rateLimit.loginPerUsernamePerMinute, 0);
  t.throws(() => loadConfig({ LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE: '-1' }), {
    message: /LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE/,
  });
});

test('loadConfig → SECRET_KEY: an empty value is refused everywhere, a short one only outside production', (t) => {
  t.throws(() => loadConfig({ SECRET_KEY: '' }), { message: /SECRET_KEY/ });
  t.like(loadConfig({ SECRET_KEY: 'short' }).auth, { secretKey: 'short', secretKeyGenerated: false });
  t.throws(() => loadConfig({ NODE_ENV: 'production', SECRET_KEY: 'k'.repeat(31) }), { message: /SECRET_KEY/ });
});

test('loadConfig → the token-subject cache keeps subjects 5 s, 10 000 at most, by default', (t) => {
  t.deepEqual(loadConfig({}).subjectCache, { ttlMs: 5000, maxEntries: 10_000 });
  t.true(Object.isFrozen(loadConfig({}).subjectCache));
});

test('loadConfig → TOKEN_SUBJECT_CACHE_TTL_MS=0 turns storing off; both cache variables are honoured up to their bounds', (t) => {
  t.is(loadConfig({ TOKEN_SUBJECT_CACHE_TTL_MS: '0' }).subjectCache.ttlMs, 0);
  t.deepEqual(
    loadConfig({ TOKEN_SUBJECT_CACHE_TTL_MS: '600000', TOKEN_SUBJECT_CACHE_MAX_ENTRIES: '1000000' }).subjectCache,
    { ttlMs: 600_000, maxEntries: 1_000_000 },
  );
});

for (const [name, bad] of [
  ['TOKEN_SUBJECT_CACHE_TTL_MS', '-1'],
  ['TOKEN_SUBJECT_CACHE_TTL_MS', '600001'],
  ['TOKEN_SUBJECT_CACHE_TTL_MS', '1.5'],
  ['TOKEN_SUBJECT_CACHE_TTL_MS', 'five'],
  ['TOKEN_SUBJECT_CACHE_MAX_ENTRIES', '0'],
  ['TOKEN_SUBJECT_CACHE_MAX_ENTRIES', '1000001'],
] as const) {
  test(`loadConfig → ${name}=${bad} stops the start with one line naming the variable`, (t) => {
    const error = t.throws(() => loadConfig({ [name]: bad }), { instanceOf: ConfigError });
    t.regex(error.message, new RegExp(name));
    t.notRegex(error.message, /\n/);
  });
}

test('loadConfig → PREVIOUS_SECRET_KEYS: none by default; a comma-separated list, blanks ignored; short keys refused in production without echoing them', (t) => {
  t.deepEqual(loadConfig({}).auth.previousSecretKeys, []);
  t.deepEqual(loadConfig({ PREVIOUS_SECRET_KEYS: ' old-one , old-two,,old-one' }).auth.previousSecretKeys, [
    'old-one',
    'old-two',
  ]);
  const error = t.throws(() =>
    loadConfig({ NODE_ENV: 'production', SECRET_KEY: 'k'.repeat(32), PREVIOUS_SECRET_KEYS: 'tiny-secret' }),
  );
  t.regex(error.message, /PREVIOUS_SECRET_KEYS must be a comma-separated list of keys of at least 32 characters/);
  t.notRegex(error.message, /tiny-secret/);
});

test('loadConfig → broker identities: all the AMQP_URL’s user by default (not separated), any caller allowed', (t) => {
  const { amqp } = loadConfig({});

  t.deepEqual(amqp.identities, { own: 'guest', userService: 'guest', productService: 'guest', separated: false });
  t.is(amqp.allowedCallers, undefined);
});

test('loadConfig → broker identities of a deployment: own user from AMQP_URL, the peer and allowed callers from their variables', (t) => {
  const { amqp } = loadConfig({
    AMQP_URL: 'amqp://user-service:pw@rabbitmq:5672/shop',
    PRODUCT_SERVICE_BROKER_USER: 'product-service',
    AUTH_RPC_ALLOWED_CALLERS: 'product-service, ops-probe',
  });

  t.deepEqual(amqp.identities, {
    own: 'user-service',
    userService: 'user-service',
    productService: 'product-service',
    separated: true,
  });
  t.deepEqual(amqp.allowedCallers, ['product-service', 'ops-probe']);
});

test('loadConfig → USER_SERVICE_BROKER_USER must be the AMQP_URL’s user (RabbitMQ would refuse every publish otherwise)', (t) => {
  t.throws(() => loadConfig({ AMQP_URL: 'amqp://guest:guest@localhost', USER_SERVICE_BROKER_USER: 'user-service' }), {
    instanceOf: ConfigError,
    message: /USER_SERVICE_BROKER_USER is user-service but AMQP_URL logs in as guest/,
  });
  t.throws(() => loadConfig({ AUTH_RPC_ALLOWED_CALLERS: 'no spaces allowed' }), {
    message: /AUTH_RPC_ALLOWED_CALLERS/,
  });
});

test('loadConfig → load shedding: the measured defaults, read from the environment', (t) => {
  t.deepEqual(loadConfig({}).loadShedding, { maxInFlight: 128, maxEventLoopDelayMs: 1000 });
  t.deepEqual(loadConfig({ LOAD_SHED_MAX_IN_FLIGHT: '32', LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '250' }).loadShedding, {
    maxInFlight: 32,
    maxEventLoopDelayMs: 250,
  });
});
