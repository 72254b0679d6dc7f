import test from 'ava';

import type { OutboxRepository } from '../../src/repositories/outbox.repository';
import type { RevokedTokenRepository } from '../../src/repositories/revoked-token.repository';
import type { TokenSubject, UserRepository } from '../../src/repositories/user.repository';
import { AuthService } from '../../src/services/auth.service';
import { PasswordHasher } from '../../src/services/password-hasher';
import { TokenService } from '../../src/services/token.service';

const tokens = new TokenService({
  secretKey: 'unit-test-secret-that-is-long-enough-0123',
  algorithm: 'HS256',
  ttlSeconds: 600,
  issuer: 'user-service',
  audience: 'shop',
});

/** A user store whose subject reads take 20 ms and are counted. */
function countingUsers(subject: TokenSubject | null) {
  const calls = { reads: 0 };
  const users = {
    findTokenSubject: async () => {
      calls.reads += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return subject;
    },
  } as unknown as UserRepository;
  return { users, calls };
}

function authServiceWith(users: UserRepository): AuthService {
  return new AuthService({
    users,
    revokedTokens: {} as unknown as RevokedTokenRepository,
    outbox: {} as unknown as OutboxRepository,
    withTransaction: () => Promise.reject(new Error('no transactions in these tests')),
    events: { notify: () => undefined },
    passwords: new PasswordHasher({ rounds: 4 }),
    tokens,
  });
}

test('validateToken → 100 concurrent validations of one token share one database read', async (t) => {
  const { users, calls } = countingUsers({ id: 7, username: 'alice', isActive: true, revoked: false });
  const service = authServiceWith(users);
  const { token } = tokens.issue({ id: 7, username: 'alice' });

  const results = await Promise.all(Array.from({ length: 100 }, () => service.validateToken(token)));

  t.is(calls.reads, 1);
  t.true(results.every((result) => result.valid));
});

test('validateToken → a validation after the shared read finished reads again (nothing is cached)', async (t) => {
  const { users, calls } = countingUsers({ id: 7, username: 'alice', isActive: true, revoked: false });
  const service = authServiceWith(users);
  const { token } = tokens.issue({ id: 7, username: 'alice' });

  await service.validateToken(token);
  await service.validateToken(token);

  t.is(calls.reads, 2);
});

test('validateToken → revoked, inactive and missing subjects are refused with their reason', async (t) => {
  const { token } = tokens.issue({ id: 7, username: 'alice' });
  const cases: [TokenSubject | null, string][] = [
    [{ id: 7, username: 'alice', isActive: true, revoked: true }, 'revoked'],
    [{ id: 7, username: 'alice', isActive: false, revoked: false }, 'user_inactive'],
    [null, 'user_not_found'],
  ];
  for (const [subject, reason] of cases) {
    const service = authServiceWith(countingUsers(subject).users);
    t.deepEqual(await service.validateToken(token), { valid: false, reason });
  }
});
