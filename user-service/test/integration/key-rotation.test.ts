import test from 'ava';
import jwt from 'jsonwebtoken';

import { sampleValue, scrapeMetrics } from '@shop/test-harness';

import { keyIdOf } from '../../src/services/token.service';
import { loginToken, registerUser } from '../helpers/factories';
import { RpcProbe } from '../helpers/rpc-probe';
import { useUserService } from '../helpers/use-user-service';
import type { StartedUserService } from '../helpers/user-service';

/**
 * A rotation in progress: two instances on one database and one RPC queue, A signing with key A
 * (B still verifies) and B signing with key B (A still verifies), as replicas are while they
 * move to a new key one at a time.
 */
const KEY_A = 'rotation-test-key-a-that-is-at-least-32-characters';
const KEY_B = 'rotation-test-key-b-that-is-at-least-32-characters';

/** Token checks sent during the rotation, half of them with each key's tokens. */
const VALIDATIONS = 1000;

/** Requests in flight at once: enough for both instances to take a share. */
const CONCURRENCY = 50;

const ctx = useUserService({ SECRET_KEY: KEY_A, PREVIOUS_SECRET_KEYS: KEY_B });
let instanceB: StartedUserService;
let probe: RpcProbe;

test.serial.before(async () => {
  instanceB = await ctx.startAnother({ SECRET_KEY: KEY_B, PREVIOUS_SECRET_KEYS: KEY_A });
  probe = await RpcProbe.open(ctx.env.amqpUrl, ctx.service.queue);
});

test.serial.after.always(async () => {
  await probe.close();
});

const kidOf = (token: string) => (jwt.decode(token, { complete: true })?.header as { kid?: string }).kid;

async function validHandled(instance: StartedUserService): Promise<number> {
  return sampleValue(await scrapeMetrics(instance.baseUrl), 'rpc_server_requests_total', { outcome: 'valid' });
}

test.serial(
  'two instances mid-rotation (A signs, B verifies; B signs, A verifies) → 1,000 validations of tokens from both, zero refusals',
  async (t) => {
    const user = await registerUser(ctx.service.baseUrl);
    const fromA = await loginToken(ctx.service.baseUrl, user);
    const fromB = await loginToken(instanceB.baseUrl, user);
    t.is(kidOf(fromA), keyIdOf(KEY_A));
    t.is(kidOf(fromB), keyIdOf(KEY_B));
    const handledBefore = (await validHandled(ctx.service)) + (await validHandled(instanceB));

    const outcomes: string[] = [];
    for (let sent = 0; sent < VALIDATIONS; sent += CONCURRENCY) {
      const replies = await Promise.all(
        Array.from({ length: CONCURRENCY }, (_unused, i) =>
          probe.call({ token: (sent + i) % 2 === 0 ? fromA : fromB }),
        ),
      );
      for (const reply of replies)
        outcomes.push('valid' in reply.body && reply.body.valid ? 'valid' : JSON.stringify(reply.body));
    }

    t.is(outcomes.length, VALIDATIONS);
    t.deepEqual(
      outcomes.filter((outcome) => outcome !== 'valid'),
      [],
      'no refusal',
    );
    const byA = await validHandled(ctx.service);
    const byB = await validHandled(instanceB);
    t.is(byA + byB - handledBefore, VALIDATIONS);
    t.true(byA > 0 && byB > 0, `both instances answered (A ${byA}, B ${byB})`);
  },
);

test.serial('key A dropped (an instance with only B) → A’s tokens are bad_signature, B’s still valid', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const fromA = await loginToken(ctx.service.baseUrl, user);
  const fromB = await loginToken(instanceB.baseUrl, user);
  const onlyB = await ctx.startAnother({
    SECRET_KEY: KEY_B,
    PREVIOUS_SECRET_KEYS: '',
    AUTH_RPC_QUEUE: ctx.env.queueName('auth.validate_token.only-b'),
  });
  const onlyBProbe = await RpcProbe.open(ctx.env.amqpUrl, onlyB.queue);
  t.teardown(() => onlyBProbe.close());

  t.deepEqual((await onlyBProbe.call({ token: fromA })).body, { valid: false, reason: 'bad_signature' });
  t.like((await onlyBProbe.call({ token: fromB })).body, { valid: true });
});
