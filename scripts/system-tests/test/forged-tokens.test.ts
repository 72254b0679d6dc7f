import test from 'ava';
import { createHmac, randomUUID } from 'node:crypto';
import { Client } from 'pg';

import { PROBLEM_CONTENT_TYPE, problemDetailsSchema, validateMessage } from '@shop/shared-contracts';
import { metricSample, TestEnvironment } from '@shop/test-harness';

import { rpcCallsSent, startSystem, type RunningSystem } from '../src';

// Forged, stale and odd tokens against every product-service write, judged by the REAL
// user-service over the real broker: each is a 401, each write cost one RPC that both services
// counted as "invalid" (refusals are never cached), and the product database is untouched (read
// with pg, not through the API). Serial: the cases compare the whole products table and the
// services' RPC counters.

const SECRET_KEY = 'forged-token-suite-secret-key-of-48-characters!!';

let env: TestEnvironment | undefined;
let system: RunningSystem | undefined;
let productDb: Client | undefined;
let userDb: Client | undefined;

interface Account {
  id: number;
  username: string;
  password: string;
  token: string;
}

let alice: Account | undefined;
let productId = 0;

function running(): RunningSystem {
  if (!system) throw new Error('the system has not started');
  return system;
}

function account(): Account {
  if (!alice) throw new Error('alice has not registered');
  return alice;
}

async function json(method: string, url: string, body?: unknown, authorization?: string) {
  const response = await fetch(url, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(authorization === undefined ? {} : { authorization }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: text ? (JSON.parse(text) as unknown) : undefined,
  };
}

async function signUp(username: string): Promise<Account> {
  const { user } = running();
  const password = `${username}-password-1`;
  const registered = await json('POST', `${user.baseUrl}/register`, { username, password });
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${registered.text}`);
  const login = await json('POST', `${user.baseUrl}/login`, { username, password });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`);
  return {
    id: (registered.body as { id: number }).id,
    username,
    password,
    token: (login.body as { access_token: string }).access_token,
  };
}

const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A JWT signed by hand, so every header and claim can be chosen. */
function sign(
  claims: Record<string, unknown>,
  options: { algorithm?: 'HS256' | 'HS384' | 'HS512'; key?: string } = {},
): string {
  const algorithm = options.algorithm ?? 'HS256';
  const input = `${encode({ alg: algorithm, typ: 'JWT' })}.${encode(claims)}`;
  const digest = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[algorithm];
  return `${input}.${createHmac(digest, options.key ?? SECRET_KEY)
    .update(input)
    .digest('base64url')}`;
}

/** The claims user-service itself would put in a token for `who`. */
function claimsOf(who: Pick<Account, 'id' | 'username'>): Record<string, unknown> {
  return {
    sub: String(who.id),
    username: who.username,
    jti: randomUUID(),
    iss: 'user-service',
    aud: 'shop',
    iat: now(),
    exp: now() + 600,
  };
}

/** Token-validation RPCs answered "invalid", as product-service (sent) and user-service (judged) counted them. */
async function invalidRpcs(): Promise<{ sent: number; judged: number }> {
  const { user, product } = running();
  return {
    sent: await metricSample(product.baseUrl, 'rpc_client_calls_total', { outcome: 'invalid' }),
    judged: await metricSample(user.baseUrl, 'rpc_server_requests_total', { outcome: 'invalid' }),
  };
}

async function productRows(): Promise<unknown[]> {
  if (!productDb) throw new Error('no product database client');
  return (await productDb.query<Record<string, unknown>>('SELECT * FROM products ORDER BY id')).rows;
}

test.before(async () => {
  env = await TestEnvironment.start();
  system = await startSystem(env, {
    user: { SECRET_KEY, LOG_LEVEL: 'trace' },
    product: { LOG_LEVEL: 'trace' },
  });
  productDb = new Client({ connectionString: system.databaseUrls.product });
  userDb = new Client({ connectionString: system.databaseUrls.user });
  await Promise.all([productDb.connect(), userDb.connect()]);

  alice = await signUp('forge_alice');
  const created = await json(
    'POST',
    `${system.product.baseUrl}/products`,
    { name: 'Alice lamp', price: 10, quantity: 1 },
    `Bearer ${alice.token}`,
  );
  if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
  productId = (created.body as { id: number }).id;
});

test.after.always(async () => {
  await productDb?.end();
  await userDb?.end();
  await system?.stop();
  await env?.close();
});

const WRITES = [
  ['POST', () => '/products', { name: 'Forged', price: 1, quantity: 1 }],
  ['PUT', () => `/products/${productId}`, { name: 'Forged' }],
  ['PATCH', () => `/products/${productId}`, { price: 0.01 }],
  ['DELETE', () => `/products/${productId}`, undefined],
] as const;

const forgeries: [string, () => string | Promise<string>][] = [
  [
    'a token signed with another key',
    () => sign(claimsOf(account()), { key: 'another-key-of-sufficient-length-0123456789' }),
  ],
  ['an expired token', () => sign({ ...claimsOf(account()), iat: now() - 3600, exp: now() - 60 })],
  ['an alg:none token', () => `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claimsOf(account()))}.`],
  ['an HS512 token made with the right key', () => sign(claimsOf(account()), { algorithm: 'HS512' })],
  [
    'a real token with its payload tampered (another user)',
    () => {
      const [header, payload, signature] = account().token.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
      return `${header!}.${encode({ ...claims, sub: '999', username: 'admin' })}.${signature!}`;
    },
  ],
  ['a correctly signed token for a user who does not exist', () => sign(claimsOf({ id: 999_999, username: 'ghost' }))],
  ['a correctly signed token issued in the future', () => sign({ ...claimsOf(account()), iat: now() + 3600 })],
  ['a correctly signed token for another audience', () => sign({ ...claimsOf(account()), aud: 'elsewhere' })],
  ['a correctly signed token from another issuer', () => sign({ ...claimsOf(account()), iss: 'evil' })],
  ['a correctly signed token without a jti', () => sign({ ...claimsOf(account()), jti: undefined })],
  ['a string that is not a JWT', () => 'abc.def.ghi'],
  [
    'the real token of a deactivated user',
    async () => {
      const bob = await signUp(`forge_bob_${randomUUID().slice(0, 8)}`);
      await userDb!.query('UPDATE users SET is_active = false WHERE id = $1', [bob.id]);
      return bob.token;
    },
  ],
  [
    'the real token of a deleted user',
    async () => {
      const carol = await signUp(`forge_carol_${randomUUID().slice(0, 8)}`);
      await userDb!.query('DELETE FROM users WHERE id = $1', [carol.id]);
      return carol.token;
    },
  ],
];

const INTERNALS = /\bat [\w.<>]+ \(|node_modules|sequelize|jsonwebtoken|amqplib|postgres|SyntaxError|\bstack\b/i;

for (const [label, forge] of forgeries) {
  test.serial(`product-service writes → 401 for ${label}, judged by user-service, and nothing stored`, async (t) => {
    const { product } = running();
    const token = await forge();
    const before = await productRows();
    const rpcsBefore = await invalidRpcs();

    for (const [method, path, body] of WRITES) {
      const response = await json(method, `${product.baseUrl}${path()}`, body, `Bearer ${token}`);

      t.is(response.status, 401, `${method}: ${response.text}`);
      t.regex(response.headers.get('www-authenticate') ?? '', /^Bearer/);
      t.is(response.headers.get('content-type'), `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
      t.true(validateMessage(problemDetailsSchema, response.body).ok, response.text);
      t.notRegex(response.text, INTERNALS);
    }
    t.deepEqual(
      await invalidRpcs(),
      {
        sent: rpcsBefore.sent + WRITES.length,
        judged: rpcsBefore.judged + WRITES.length,
      },
      'one RPC per write, answered "invalid" by user-service',
    );
    t.deepEqual(await productRows(), before);
  });
}

test.serial(
  'product-service writes → 401 for a 10 kB Authorization header, no RPC sent, and nothing stored',
  async (t) => {
    const { product } = running();
    const before = await productRows();
    const callsBefore = await rpcCallsSent(product.baseUrl);
    for (const [method, path, body] of WRITES) {
      const response = await json(method, `${product.baseUrl}${path()}`, body, `Bearer ${'a'.repeat(10_240)}`);
      t.is(response.status, 401, method);
    }
    t.is(await rpcCallsSent(product.baseUrl), callsBefore, 'refused by the bearer parser, before any RPC');
    t.deepEqual(await productRows(), before);
  },
);

test.serial(
  'controls → a token forged the same way but with the right key and a real user is accepted; a non-owner gets 403',
  async (t) => {
    const { product } = running();
    const genuine = sign(claimsOf(account()));
    const dave = await signUp('forge_dave');
    const before = await productRows();

    const foreign = await json(
      'PATCH',
      `${product.baseUrl}/products/${productId}`,
      { quantity: 2 },
      `Bearer ${dave.token}`,
    );
    t.is(foreign.status, 403);
    t.deepEqual(await productRows(), before);

    const own = await json('PATCH', `${product.baseUrl}/products/${productId}`, { quantity: 2 }, `Bearer ${genuine}`);
    t.is(own.status, 200, own.text);
    t.like(own.body, { id: productId, quantity: 2, owner_id: account().id });
  },
);

test.serial('logs of both processes → no password, token or Authorization value, at trace level', (t) => {
  const { user, product } = running();
  const log = [...user.lines, ...product.lines].map((line) => JSON.stringify(line)).join('\n');

  t.true(log.includes('forge_alice'), 'the logs are captured');
  t.false(log.includes(account().password));
  t.false(log.includes(account().token));
  t.false(log.includes(account().token.split('.')[2]!));
  t.notRegex(log, /Bearer /i);
});
