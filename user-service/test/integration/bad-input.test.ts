import test from 'ava';
import { gzipSync } from 'node:zlib';
import { QueryTypes } from 'sequelize';

import { call, type CallOptions, expectProblem, INTERNALS } from '@shop/test-harness';

import { postJson, registerUser, unsignedToken, type TestUser } from '../helpers/factories';
import { useUserService } from '../helpers/use-user-service';

// Every endpoint against malformed, mistyped, oversized and hostile input. Each case asserts
// the exact status, the problem+json naming the failing fields, and that the users table is
// exactly as before (or holds exactly the one user a 201 created). Serial: the table is
// compared as a whole, so no other test of this file may write to it meanwhile.
const ctx = useUserService();

interface UserRow {
  id: number;
  username: string;
  hashed_password: string;
  is_active: boolean;
  updated_at: Date;
}

const snapshot = () =>
  ctx.service.sequelize.query<UserRow>(
    'SELECT id, username, hashed_password, is_active, updated_at FROM users ORDER BY id',
    { type: QueryTypes.SELECT },
  );

/** An existing user, for login cases that must not change it. */
let known: TestUser | undefined;
test.serial.before(async () => {
  known = await registerUser(ctx.service.baseUrl, { username: 'known_user', password: 'known-password-1' });
});

interface Case {
  title: string;
  method: string;
  path: string;
  request?: CallOptions;
  status: number;
  /** For 422: every field `errors` must name. */
  paths?: string[];
  /** For a 201 from /register: the username that must now be stored, exactly as sent. */
  creates?: string;
}

const GOOD_PASSWORD = 'correct-horse-7';
const json = (value: unknown): CallOptions => ({ json: value });
const raw = (text: string, contentType = 'application/json'): CallOptions => ({ raw: text, contentType });
const huge = (bytes: number) => json({ username: 'big_body', password: GOOD_PASSWORD, padding: 'x'.repeat(bytes) });

const ROUTES = [
  ['POST', '/register'],
  ['POST', '/login'],
  ['POST', '/validate-token'],
  ['GET', '/health'],
  ['GET', '/health/live'],
  ['GET', '/metrics'],
  ['GET', '/openapi.json'],
  ['GET', '/docs'],
] as const;

const BODY_ROUTES = ['/register', '/login', '/validate-token'] as const;

const everyRoute: Case[] = ROUTES.flatMap(([method, path]): Case[] => [
  { title: 'malformed JSON', method, path, request: raw('{"username": "x",'), status: 400 },
  { title: 'a JSON body over 100 kB', method, path, request: huge(110_000), status: 413 },
  {
    title: 'a gzip body that does not inflate',
    method,
    path,
    request: { raw: 'not gzip at all', contentType: 'application/json', headers: { 'content-encoding': 'gzip' } },
    status: 400,
  },
]);

const everyBodyRoute: Case[] = BODY_ROUTES.flatMap((path): Case[] => [
  { title: 'text/plain', method: 'POST', path, request: raw('{"token":"x"}', 'text/plain'), status: 415 },
  { title: 'XML', method: 'POST', path, request: raw('<token>x</token>', 'application/xml'), status: 415 },
  {
    title: 'a JSON charset the parser cannot read',
    method: 'POST',
    path,
    request: raw('{}', 'application/json; charset=latin1'),
    status: 415,
  },
  { title: 'a JSON scalar at the top level', method: 'POST', path, request: raw('"just a string"'), status: 400 },
  { title: 'JSON null at the top level', method: 'POST', path, request: raw('null'), status: 400 },
  { title: 'a JSON array', method: 'POST', path, request: json([]), status: 422, paths: ['body'] },
]);

const register: Case[] = [
  {
    title: 'no fields',
    method: 'POST',
    path: '/register',
    request: json({}),
    status: 422,
    paths: ['body.username', 'body.password'],
  },
  {
    title: 'wrong types',
    method: 'POST',
    path: '/register',
    request: json({ username: 123, password: true }),
    status: 422,
    paths: ['body.username', 'body.password'],
  },
  {
    title: 'nulls',
    method: 'POST',
    path: '/register',
    request: json({ username: null, password: null }),
    status: 422,
    paths: ['body.username', 'body.password'],
  },
  {
    title: 'extra fields (role, is_active, id)',
    method: 'POST',
    path: '/register',
    request: json({ username: 'extra_fields', password: GOOD_PASSWORD, role: 'admin', is_active: false, id: 1 }),
    status: 422,
    paths: ['body.role', 'body.is_active', 'body.id'],
  },
  {
    title: 'a 2-character username',
    method: 'POST',
    path: '/register',
    request: json({ username: 'ab', password: GOOD_PASSWORD }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a 3-character username',
    method: 'POST',
    path: '/register',
    request: json({ username: 'abc', password: GOOD_PASSWORD }),
    status: 201,
    creates: 'abc',
  },
  {
    title: 'a 50-character username',
    method: 'POST',
    path: '/register',
    request: json({ username: 'u'.repeat(50), password: GOOD_PASSWORD }),
    status: 201,
    creates: 'u'.repeat(50),
  },
  {
    title: 'a 51-character username',
    method: 'POST',
    path: '/register',
    request: json({ username: 'v'.repeat(51), password: GOOD_PASSWORD }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a 5-byte password',
    method: 'POST',
    path: '/register',
    request: json({ username: 'pw_five', password: '12345' }),
    status: 422,
    paths: ['body.password'],
  },
  {
    title: 'a 6-byte password',
    method: 'POST',
    path: '/register',
    request: json({ username: 'pw_six', password: '123456' }),
    status: 201,
    creates: 'pw_six',
  },
  {
    title: 'a 72-byte password',
    method: 'POST',
    path: '/register',
    request: json({ username: 'pw_72', password: 'p'.repeat(72) }),
    status: 201,
    creates: 'pw_72',
  },
  {
    title: 'a 73-byte password',
    method: 'POST',
    path: '/register',
    request: json({ username: 'pw_73', password: 'p'.repeat(73) }),
    status: 422,
    paths: ['body.password'],
  },
  {
    title: 'a 72-byte password of 2-byte characters',
    method: 'POST',
    path: '/register',
    request: json({ username: 'pw_72_utf8', password: 'é'.repeat(36) }),
    status: 201,
    creates: 'pw_72_utf8',
  },
  {
    title: 'a 73-byte password of 2-byte characters',
    method: 'POST',
    path: '/register',
    request: json({ username: 'pw_73_utf8', password: `${'é'.repeat(36)}x` }),
    status: 422,
    paths: ['body.password'],
  },
  {
    title: 'a password with a NUL',
    method: 'POST',
    path: '/register',
    request: json({ username: 'pw_nul', password: 'abc\u0000defg' }),
    status: 422,
    paths: ['body.password'],
  },
  {
    title: 'a password with a lone surrogate',
    method: 'POST',
    path: '/register',
    request: json({ username: 'pw_surrogate', password: 'abc\ud800defg' }),
    status: 422,
    paths: ['body.password'],
  },
  {
    title: 'a password of emoji, tabs and newlines',
    method: 'POST',
    path: '/register',
    request: json({ username: 'pw_emoji', password: '🔑\t\n密码-😀' }),
    status: 201,
    creates: 'pw_emoji',
  },
  {
    title: 'a password that is an SQL payload',
    method: 'POST',
    path: '/register',
    request: json({ username: 'pw_sql', password: "' OR '1'='1" }),
    status: 201,
    creates: 'pw_sql',
  },
  {
    title: 'a username with non-ASCII letters',
    method: 'POST',
    path: '/register',
    request: json({ username: 'ålice', password: GOOD_PASSWORD }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a username with a newline',
    method: 'POST',
    path: '/register',
    request: json({ username: 'bob\nadmin', password: GOOD_PASSWORD }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a username with a NUL',
    method: 'POST',
    path: '/register',
    request: json({ username: 'bob\u0000', password: GOOD_PASSWORD }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a username with a right-to-left override',
    method: 'POST',
    path: '/register',
    request: json({ username: 'bob\u202egnp', password: GOOD_PASSWORD }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a username that is an SQL payload',
    method: 'POST',
    path: '/register',
    request: json({ username: "x'; DROP TABLE users;--", password: GOOD_PASSWORD }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a username that is a script',
    method: 'POST',
    path: '/register',
    request: json({ username: '<script>alert(1)</script>', password: GOOD_PASSWORD }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a huge number as username',
    method: 'POST',
    path: '/register',
    request: json({ username: 1e308, password: GOOD_PASSWORD }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: '1e999 as password (raw JSON)',
    method: 'POST',
    path: '/register',
    request: raw('{"username":"inf_pw","password":1e999}'),
    status: 422,
    paths: ['body.password'],
  },
  {
    title: '-0 as username (raw JSON)',
    method: 'POST',
    path: '/register',
    request: raw('{"username":-0,"password":"correct-horse-7"}'),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a constructor key',
    method: 'POST',
    path: '/register',
    request: raw('{"username":"ctor_key","password":"correct-horse-7","constructor":{"prototype":{"admin":true}}}'),
    status: 422,
    paths: ['body.constructor'],
  },
  {
    title: 'a taken name in other letter case',
    method: 'POST',
    path: '/register',
    request: json({ username: 'KNOWN_USER', password: GOOD_PASSWORD }),
    status: 409,
  },
  {
    title: 'a form body',
    method: 'POST',
    path: '/register',
    request: { form: { username: 'form_user', password: GOOD_PASSWORD } },
    status: 415,
  },
];

const login: Case[] = [
  {
    title: 'no fields (JSON)',
    method: 'POST',
    path: '/login',
    request: json({}),
    status: 422,
    paths: ['body.username', 'body.password'],
  },
  {
    title: 'no fields (form)',
    method: 'POST',
    path: '/login',
    request: { form: {} },
    status: 422,
    paths: ['body.username', 'body.password'],
  },
  {
    title: 'wrong types',
    method: 'POST',
    path: '/login',
    request: json({ username: ['known_user'], password: 12345678 }),
    status: 422,
    paths: ['body.username', 'body.password'],
  },
  {
    title: 'nulls',
    method: 'POST',
    path: '/login',
    request: json({ username: null, password: null }),
    status: 422,
    paths: ['body.username', 'body.password'],
  },
  {
    title: 'an extra field',
    method: 'POST',
    path: '/login',
    request: json({ username: 'known_user', password: 'known-password-1', admin: true }),
    status: 422,
    paths: ['body.admin'],
  },
  {
    title: 'a grant type other than password',
    method: 'POST',
    path: '/login',
    request: { form: { username: 'known_user', password: 'known-password-1', grant_type: 'client_credentials' } },
    status: 422,
    paths: ['body.grant_type'],
  },
  {
    title: 'a repeated form field',
    method: 'POST',
    path: '/login',
    request: { form: 'username=known_user&username=other&password=known-password-1' },
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a bracketed form field',
    method: 'POST',
    path: '/login',
    request: { form: 'username[]=known_user&password=known-password-1' },
    status: 422,
    paths: ['body.username', 'body.username[]'],
  },
  {
    title: 'a form with too many fields',
    method: 'POST',
    path: '/login',
    request: { form: Array.from({ length: 25 }, (_, i) => `f${i}=1`).join('&') },
    status: 413,
  },
  {
    title: 'a form in a charset other than UTF-8',
    method: 'POST',
    path: '/login',
    request: raw('username=known_user&password=x', 'application/x-www-form-urlencoded; charset=koi8-r'),
    status: 415,
  },
  {
    title: 'a multipart body',
    method: 'POST',
    path: '/login',
    request: raw('--b\r\n\r\n--b--', 'multipart/form-data; boundary=b'),
    status: 415,
  },
  {
    title: 'a 51-character username',
    method: 'POST',
    path: '/login',
    request: json({ username: 'k'.repeat(51), password: 'known-password-1' }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a 73-byte password',
    method: 'POST',
    path: '/login',
    request: json({ username: 'known_user', password: 'p'.repeat(73) }),
    status: 422,
    paths: ['body.password'],
  },
  {
    title: 'a username with a NUL',
    method: 'POST',
    path: '/login',
    request: json({ username: 'known_user\u0000', password: 'known-password-1' }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a username that is an SQL payload',
    method: 'POST',
    path: '/login',
    request: json({ username: "' OR 1=1 --", password: 'known-password-1' }),
    status: 422,
    paths: ['body.username'],
  },
  {
    title: 'a password that is an SQL payload',
    method: 'POST',
    path: '/login',
    request: json({ username: 'known_user', password: "' OR '1'='1" }),
    status: 401,
  },
  {
    title: 'a wrong password',
    method: 'POST',
    path: '/login',
    request: json({ username: 'known_user', password: 'not-the-password' }),
    status: 401,
  },
  {
    title: 'an unknown username',
    method: 'POST',
    path: '/login',
    request: json({ username: 'nobody_here', password: 'known-password-1' }),
    status: 401,
  },
  {
    title: '1e999 as password (raw JSON)',
    method: 'POST',
    path: '/login',
    request: raw('{"username":"known_user","password":1e999}'),
    status: 422,
    paths: ['body.password'],
  },
];

const validateToken: Case[] = [
  { title: 'no token', method: 'POST', path: '/validate-token', request: json({}), status: 422, paths: ['body.token'] },
  {
    title: 'a numeric token',
    method: 'POST',
    path: '/validate-token',
    request: json({ token: 42 }),
    status: 422,
    paths: ['body.token'],
  },
  {
    title: 'a null token',
    method: 'POST',
    path: '/validate-token',
    request: json({ token: null }),
    status: 422,
    paths: ['body.token'],
  },
  {
    title: 'an empty token',
    method: 'POST',
    path: '/validate-token',
    request: json({ token: '' }),
    status: 422,
    paths: ['body.token'],
  },
  {
    title: 'a token over 4096 characters',
    method: 'POST',
    path: '/validate-token',
    request: json({ token: 'a'.repeat(4097) }),
    status: 422,
    paths: ['body.token'],
  },
  {
    title: 'an extra field',
    method: 'POST',
    path: '/validate-token',
    request: json({ token: 'a.b.c', admin: true }),
    status: 422,
    paths: ['body.admin'],
  },
  { title: 'a form body', method: 'POST', path: '/validate-token', request: { form: { token: 'a.b.c' } }, status: 415 },
];

const routing: Case[] = [
  { title: 'a path that is not valid percent-encoding', method: 'GET', path: '/health/%E0%A4%A', status: 404 },
  { title: 'an unknown method on a known path', method: 'DELETE', path: '/register', status: 404 },
  { title: 'a script in an unknown path', method: 'GET', path: '/<script>alert(1)</script>', status: 404 },
];

/** `/docs` redirects to `/docs/`, where Swagger UI's files are. */
/** `/docs` redirects to `/docs/`, where Swagger UI's files are. */
const OK_STATUSES: Record<string, number> = {
  '/health': 200,
  '/health/live': 200,
  '/metrics': 200,
  '/openapi.json': 200,
  '/docs': 301,
};

for (const c of [...everyRoute, ...everyBodyRoute, ...register, ...login, ...validateToken, ...routing]) {
  test.serial(`${c.method} ${c.path} → ${c.status} for ${c.title}`, async (t) => {
    const before = await snapshot();

    const response = await call(ctx.service.baseUrl, c.method, c.path, c.request);

    t.true(response.status < 500, `${response.status} ${response.text}`);
    t.notRegex(response.text, INTERNALS);
    if (c.status >= 400) {
      const problem = expectProblem(t, response, c.status, c.paths);
      if (c.paths) t.is(problem.type, 'urn:problem-type:validation-failed');
      t.deepEqual(await snapshot(), before, 'a rejected request changed the users table');
      return;
    }
    t.is(response.status, c.status, response.text);
    const after = await snapshot();
    if (c.creates !== undefined) {
      t.is(after.length, before.length + 1);
      t.deepEqual(after.slice(0, before.length), before);
      t.is(after.at(-1)?.username, c.creates);
    } else {
      t.deepEqual(after, before);
    }
  });
}

test.serial('GET routes ignore a body they do not read, in any other media type', async (t) => {
  for (const [path, status] of Object.entries(OK_STATUSES)) {
    const response = await call(ctx.service.baseUrl, 'GET', path, { raw: 'anything', contentType: 'text/plain' });
    t.is(response.status, status, path);
  }
});

test.serial('a gzip JSON body is inflated and read like any other', async (t) => {
  const response = await call(ctx.service.baseUrl, 'POST', '/register', {
    raw: gzipSync(JSON.stringify({ username: 'gzipped', password: GOOD_PASSWORD })),
    contentType: 'application/json',
    headers: { 'content-encoding': 'gzip' },
  });
  t.is(response.status, 201);
});

test.serial('a password of emoji and newlines logs in with exactly that password', async (t) => {
  const user = await registerUser(ctx.service.baseUrl, { username: 'emoji_login', password: '🔑\t\n密码-😀' });
  const ok = await postJson(ctx.service.baseUrl, '/login', { username: user.username, password: user.password });
  const off = await postJson(ctx.service.baseUrl, '/login', { username: user.username, password: '🔑\t\n密码-😁' });
  t.is(ok.status, 200);
  t.is(off.status, 401);
});

test.serial('a `__proto__` key is dropped, never merged into the user', async (t) => {
  const response = await call<Record<string, unknown>>(ctx.service.baseUrl, 'POST', '/register', {
    raw: '{"username":"proto_key","password":"correct-horse-7","__proto__":{"is_active":false,"role":"admin"}}',
    contentType: 'application/json',
  });
  t.is(response.status, 201);
  t.like(response.body, { username: 'proto_key', is_active: true });
  t.false('role' in response.body);
  t.is(({} as Record<string, unknown>).role, undefined);
});

test.serial('POST /validate-token → 200 valid:false, never an error, for hostile strings', async (t) => {
  const hostile = [
    unsignedToken({ sub: String(known?.id ?? 1), username: 'known_user' }),
    'a.b.c',
    "' OR 1=1 --",
    '<script>alert(1)</script>',
    'x\u0000y',
    '\ud800.\udfff.a',
    '😀.😀.😀',
    '....',
  ];
  for (const token of hostile) {
    const response = await call<Record<string, unknown>>(ctx.service.baseUrl, 'POST', '/validate-token', {
      json: { token },
    });
    t.is(response.status, 200, token);
    t.like(response.body, { valid: false, username: null });
  }
});

test.serial('a stored-looking script comes back escaped in JSON, never as markup', async (t) => {
  const response = await call(ctx.service.baseUrl, 'GET', '/<img/src=x/onerror=alert(1)>');
  t.is(response.status, 404);
  t.false(response.text.includes('<img'));
  t.true(response.text.includes('\\u003cimg'));
  t.is(response.headers.get('x-content-type-options'), 'nosniff');
});

test.serial('X-Request-Id → echoed only when short and safe; anything else is replaced by a fresh uuid', async (t) => {
  const echoed = await call(ctx.service.baseUrl, 'POST', '/register', {
    json: {},
    headers: { 'x-request-id': 'abc-123_x.y:z' },
  });
  t.is(echoed.headers.get('x-request-id'), 'abc-123_x.y:z');
  t.is((echoed.body as { request_id: string }).request_id, 'abc-123_x.y:z');

  for (const unsafe of ['a b', 'a"b', '<script>', '../../etc/passwd', 'x'.repeat(129), 'id;drop', '']) {
    const response = await call(ctx.service.baseUrl, 'POST', '/register', {
      json: {},
      headers: { 'x-request-id': unsafe },
    });
    const id = response.headers.get('x-request-id') ?? '';
    t.regex(id, /^[0-9a-f-]{36}$/, JSON.stringify(unsafe));
    t.is((response.body as { request_id: string }).request_id, id);
    t.false(response.text.includes(unsafe) && unsafe.length > 0, JSON.stringify(unsafe));
  }
});
