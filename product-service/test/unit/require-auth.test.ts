import test from 'ava';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { ProblemDetails } from '@shop/shared-contracts';
import { createLogger, RETRY_AFTER_SECONDS, ServiceUnavailableError } from '@shop/shared-runtime';
import { errorHandler, requestContext } from '@shop/shared-runtime/http';

import { call } from '@shop/test-harness';

import { userServiceAuth } from '../../src/api/require-auth';
import type { AuthenticatedUser, TokenValidator } from '../../src/services/token-validator';

// Bearer parsing and the guard's generic behaviour (401s, challenges, errors passed through) are
// shared-runtime's, tested in its test/unit/bearer-auth.test.ts; here, what product-service adds:
// the token is vouched for by its TokenValidator, whose 503 must never turn into a 401.

/** A TokenValidator that records its calls and answers as the test says. */
class FakeTokenValidator implements TokenValidator {
  readonly calls: { token: string; requestId: string }[] = [];

  constructor(private readonly answer: (token: string) => Promise<AuthenticatedUser>) {}

  validate(token: string, context: { requestId: string }): Promise<AuthenticatedUser> {
    this.calls.push({ token, requestId: context.requestId });
    return this.answer(token);
  }
}

const alice: AuthenticatedUser = { userId: 7, username: 'alice', expiresAt: new Date('2030-01-01T00:00:00Z') };

/** A minimal app: requireAuth in front of a route that echoes the authenticated user. */
async function serve(validator: TokenValidator): Promise<{ baseUrl: string; server: Server }> {
  const auth = userServiceAuth(validator);
  const app = express();
  const logger = createLogger({ level: 'silent', service: 'product-service', version: 'test' });
  app.use(requestContext(logger));
  app.post('/guarded', auth.requireAuth, (_req, res) => {
    res.json(auth.identityOf(res));
  });
  app.use(errorHandler(logger));
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => {
      resolve(listening);
    });
  });
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function withApp(validator: TokenValidator, run: (baseUrl: string) => Promise<void>): Promise<void> {
  const { baseUrl, server } = await serve(validator);
  try {
    await run(baseUrl);
  } finally {
    server.close();
  }
}

test('userServiceAuth → a token the validator vouches for passes with its user, the request id forwarded to the validator', async (t) => {
  const validator = new FakeTokenValidator(() => Promise.resolve(alice));

  await withApp(validator, async (baseUrl) => {
    const response = await call(baseUrl, 'POST', '/guarded', {
      token: 'tok-1',
      headers: { 'x-request-id': 'req-77' },
    });

    t.is(response.status, 200);
    t.deepEqual(response.body, { ...alice, expiresAt: alice.expiresAt.toISOString() });
    t.deepEqual(validator.calls, [{ token: 'tok-1', requestId: 'req-77' }]);
  });
});

test('userServiceAuth → validator unavailable: 503 with Retry-After, never a 401', async (t) => {
  const validator = new FakeTokenValidator(() => Promise.reject(new ServiceUnavailableError('no answer')));

  await withApp(validator, async (baseUrl) => {
    const response = await call<ProblemDetails>(baseUrl, 'POST', '/guarded', { token: 'tok' });

    t.is(response.status, 503);
    t.is(response.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
    t.is(response.headers.get('www-authenticate'), null);
    t.is(response.body.type, 'urn:problem-type:service-unavailable');
  });
});
