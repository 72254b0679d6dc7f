import test from 'ava';

import { call } from '@shop/test-harness';

import { registerUser, uniqueUsername } from '../helpers/factories';
import { useUserService } from '../helpers/use-user-service';

// A realistic bcrypt cost, so that a login skipping the hash would stand out (~15 ms a hash).
const ctx = useUserService({ BCRYPT_ROUNDS: '8' });

const ROUNDS = 30;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 0 ? (sorted[middle - 1]! + sorted[middle]!) / 2 : sorted[middle]!;
}

async function timedLogin(username: string, password: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await call(ctx.service.baseUrl, 'POST', '/login', { form: { username, password } });
  return { status: response.status, ms: performance.now() - started };
}

test('POST /login → an unknown username takes as long as a wrong password (medians of 30 interleaved)', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  // Warm-up: the first unknown-user login also makes the dummy hash it compares against.
  await timedLogin(uniqueUsername('ghost'), 'wrong-password');
  await timedLogin(user.username, 'wrong-password');

  const unknown: number[] = [];
  const wrongPassword: number[] = [];
  for (let i = 0; i < ROUNDS; i += 1) {
    // Interleaved, and which goes first alternates, so drift in machine load hits both alike.
    const ghost = () => timedLogin(uniqueUsername('ghost'), 'wrong-password');
    const known = () => timedLogin(user.username, 'wrong-password');
    let a: { status: number; ms: number };
    let b: { status: number; ms: number };
    if (i % 2 === 0) {
      a = await ghost();
      b = await known();
    } else {
      b = await known();
      a = await ghost();
    }
    t.is(a.status, 401);
    t.is(b.status, 401);
    unknown.push(a.ms);
    wrongPassword.push(b.ms);
  }

  const unknownMedian = median(unknown);
  const wrongMedian = median(wrongPassword);
  t.log(`median unknown username: ${unknownMedian.toFixed(1)} ms; median wrong password: ${wrongMedian.toFixed(1)} ms`);
  t.true(
    unknownMedian >= 0.75 * wrongMedian,
    `unknown-user logins (${unknownMedian.toFixed(1)} ms) are much faster than wrong-password ones (${wrongMedian.toFixed(1)} ms)`,
  );
});
