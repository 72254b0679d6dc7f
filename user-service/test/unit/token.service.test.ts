import test from 'ava';
import jwt from 'jsonwebtoken';

import { TokenService } from '../../src/services/token.service';

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
