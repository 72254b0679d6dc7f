import test from 'ava';
import jwt from 'jsonwebtoken';
import { createHmac } from 'node:crypto';

import { TokenService, keyIdOf } from '../../src/services/token.service';

const SECRET = 'unit-test-secret-that-is-long-enough-0123';
const tokens = new TokenService({
  secretKey: SECRET,
  algorithm: 'HS256',
  ttlSeconds: 600,
  issuer: 'user-service',
  audience: 'shop',
});

test('issue → a token carrying sub, username, jti, iat and exp, that verify accepts', (t) => {
  const { token, expiresIn } = tokens.issue({ id: 42, username: 'alice' });
  t.is(expiresIn, 600);
  const claims = jwt.decode(token) as Record<string, unknown>;
  t.like(claims, { sub: '42', username: 'alice', iss: 'user-service', aud: 'shop' });
  t.regex(claims.jti as string, /^[0-9a-f-]{36}$/);
  t.is((claims.exp as number) - (claims.iat as number), 600);
  t.like(tokens.verify(token), { ok: true, userId: 42, username: 'alice' });
});

test('issue → a fresh jti every time', (t) => {
  const a = jwt.decode(tokens.issue({ id: 1, username: 'a' }).token) as { jti: string };
  const b = jwt.decode(tokens.issue({ id: 1, username: 'a' }).token) as { jti: string };
  t.not(a.jti, b.jti);
});

test('verify → expired beyond the 5 s clock tolerance', (t) => {
  const now = Math.floor(Date.now() / 1000);
  const sign = (exp: number) =>
    jwt.sign({ sub: '1', username: 'a', jti: '3f0c2a9e-1b7d-4c39-9f0e-2d8c1e6f7a10', iat: now - 100, exp }, SECRET, {
      issuer: 'user-service',
      audience: 'shop',
    });
  t.like(tokens.verify(sign(now - 2)), { ok: true });
  t.deepEqual(tokens.verify(sign(now - 30)), { ok: false, reason: 'expired' });
});

test('verify → a token missing a required claim is malformed', (t) => {
  const token = jwt.sign({ sub: '1', username: 'a' }, SECRET, {
    issuer: 'user-service',
    audience: 'shop',
    expiresIn: 60,
  });
  t.deepEqual(tokens.verify(token), { ok: false, reason: 'malformed' });
});

test('verify → a non-numeric subject is malformed', (t) => {
  const token = jwt.sign({ username: 'a' }, SECRET, {
    subject: 'admin',
    jwtid: '3f0c2a9e-1b7d-4c39-9f0e-2d8c1e6f7a10',
    issuer: 'user-service',
    audience: 'shop',
    expiresIn: 60,
  });
  t.deepEqual(tokens.verify(token), { ok: false, reason: 'malformed' });
});

test('verify → garbage and oversized strings are malformed without reaching the JWT library', (t) => {
  t.deepEqual(tokens.verify(''), { ok: false, reason: 'malformed' });
  t.deepEqual(tokens.verify('a.b'), { ok: false, reason: 'malformed' });
  t.deepEqual(tokens.verify(`${'a'.repeat(5000)}.b.c`), { ok: false, reason: 'malformed' });
});

/**
 * Signs claims exactly as given, by hand: jsonwebtoken's `sign` adds `iat` and refuses odd claim
 * types, and these cases need both. HS256 with our key unless told otherwise.
 */
function signRaw(claims: Record<string, unknown>, options: { algorithm?: 'HS256' | 'HS512' } = {}, secret = SECRET) {
  const algorithm = options.algorithm ?? 'HS256';
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: algorithm, typ: 'JWT' })}.${encode(claims)}`;
  const digest = algorithm === 'HS256' ? 'sha256' : 'sha512';
  return `${input}.${createHmac(digest, secret).update(input).digest('base64url')}`;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const fullClaims = () => ({
  sub: '7',
  username: 'alice',
  jti: '3f0c2a9e-1b7d-4c39-9f0e-2d8c1e6f7a10',
  iss: 'user-service',
  aud: 'shop',
  iat: nowSeconds(),
  exp: nowSeconds() + 60,
});

test('verify → a token with every required claim passes (the baseline of the cases below)', (t) => {
  t.like(tokens.verify(signRaw(fullClaims())), { ok: true, userId: 7 });
});

for (const claim of ['sub', 'jti', 'exp', 'iat', 'username'] as const) {
  test(`verify → a token without \`${claim}\` is malformed`, (t) => {
    const claims = Object.fromEntries(Object.entries(fullClaims()).filter(([name]) => name !== claim));
    t.deepEqual(tokens.verify(signRaw(claims)), { ok: false, reason: 'malformed' });
  });
}

for (const [label, claims] of [
  ['another issuer', { iss: 'someone-else' }],
  ['no issuer', { iss: undefined }],
  ['another audience', { aud: 'elsewhere' }],
  ['no audience', { aud: undefined }],
  ['a jti that is not a uuid', { jti: 'not-a-uuid' }],
  ['a numeric sub', { sub: 7 }],
  ['a sub of 0', { sub: '0' }],
  ['a sub beyond 2^53', { sub: '99999999999999999999' }],
  ['an iat in the future beyond the tolerance', { iat: nowSeconds() + 60 }],
  ['an nbf in the future beyond the tolerance', { nbf: nowSeconds() + 60 }],
  ['an iat that is not a number', { iat: 'yesterday' }],
] as const) {
  test(`verify → a token with ${label} is malformed`, (t) => {
    t.deepEqual(tokens.verify(signRaw({ ...fullClaims(), ...claims })), { ok: false, reason: 'malformed' });
  });
}

test('verify → iat and nbf a little ahead (within the 5 s tolerance) pass: clocks differ', (t) => {
  t.like(tokens.verify(signRaw({ ...fullClaims(), iat: nowSeconds() + 3, nbf: nowSeconds() + 3 })), { ok: true });
});

test('verify → alg none, HS512 with our key, another key and a tampered payload are bad signatures', (t) => {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'none', typ: 'JWT' })}.${encode(fullClaims())}.`;
  const [header, , signature] = signRaw(fullClaims()).split('.');
  const tampered = `${header}.${encode({ ...fullClaims(), sub: '1' })}.${signature}`;

  t.deepEqual(tokens.verify(unsigned), { ok: false, reason: 'bad_signature' });
  t.deepEqual(tokens.verify(signRaw(fullClaims(), { algorithm: 'HS512' })), { ok: false, reason: 'bad_signature' });
  t.deepEqual(tokens.verify(signRaw(fullClaims(), {}, 'another-secret-that-is-long-enough-0123')), {
    ok: false,
    reason: 'bad_signature',
  });
  t.deepEqual(tokens.verify(tampered), { ok: false, reason: 'bad_signature' });
});

const KEY_A = 'rotation-key-a-that-is-long-enough-0123456789';
const KEY_B = 'rotation-key-b-that-is-long-enough-0123456789';
const serviceWith = (secretKey: string, previousSecretKeys: string[] = []) =>
  new TokenService({
    secretKey,
    previousSecretKeys,
    algorithm: 'HS256',
    ttlSeconds: 600,
    issuer: 'user-service',
    audience: 'shop',
  });
const kidOf = (token: string) => (jwt.decode(token, { complete: true })?.header as { kid?: unknown }).kid;

test('issue → the kid header is the first 16 hex digits of the signing key’s SHA-256, never the key', (t) => {
  const { token } = serviceWith(KEY_A).issue({ id: 1, username: 'a' });

  t.is(kidOf(token), keyIdOf(KEY_A));
  t.regex(keyIdOf(KEY_A), /^[0-9a-f]{16}$/);
  t.false(token.includes(Buffer.from(KEY_A).toString('base64url').slice(0, 12)));
  t.not(keyIdOf(KEY_A), keyIdOf(KEY_B));
});

test('verify → tokens of the signing key and of every previous key pass; each replica of a rotation accepts the other’s', (t) => {
  const signingA = serviceWith(KEY_A, [KEY_B]);
  const signingB = serviceWith(KEY_B, [KEY_A]);
  const fromA = signingA.issue({ id: 7, username: 'g' }).token;
  const fromB = signingB.issue({ id: 7, username: 'g' }).token;

  for (const service of [signingA, signingB]) {
    t.like(service.verify(fromA), { ok: true, userId: 7 });
    t.like(service.verify(fromB), { ok: true, userId: 7 });
  }
});

test('verify → a kid naming no key held here (a dropped previous key) is a bad signature', (t) => {
  const fromA = serviceWith(KEY_A).issue({ id: 7, username: 'g' }).token;

  t.deepEqual(serviceWith(KEY_B).verify(fromA), { ok: false, reason: 'bad_signature' });
});

test('verify → a token without kid (issued before key ids) is checked against the signing key only', (t) => {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: '1', username: 'a', jti: '3f0c2a9e-1b7d-4c39-9f0e-2d8c1e6f7a10', iat: now, exp: now + 60 };
  const sign = (key: string) => jwt.sign(claims, key, { issuer: 'user-service', audience: 'shop' });

  t.like(serviceWith(KEY_A, [KEY_B]).verify(sign(KEY_A)), { ok: true });
  t.deepEqual(serviceWith(KEY_A, [KEY_B]).verify(sign(KEY_B)), { ok: false, reason: 'bad_signature' });
});

test('verify → a kid that is not a string, or a header that is not JSON, is malformed', (t) => {
  const valid = serviceWith(KEY_A).issue({ id: 1, username: 'a' }).token;
  const [, payload, signature] = valid.split('.');
  const withHeader = (header: string) => `${Buffer.from(header).toString('base64url')}.${payload}.${signature}`;

  t.deepEqual(serviceWith(KEY_A).verify(withHeader('{"alg":"HS256","kid":5}')), { ok: false, reason: 'malformed' });
  t.deepEqual(serviceWith(KEY_A).verify(withHeader('not json')), { ok: false, reason: 'malformed' });
});
