import test from 'ava';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { ProblemDetails } from '@shop/shared-contracts';
import { createLogger, ServiceUnavailableError, UnauthorizedError } from '@shop/shared-runtime';
import { errorHandler, requestContext } from '@shop/shared-runtime/http';

import { authenticatedUser, bearerTokenOf, requireAuth } from '../../src/api/require-auth';
import type { AuthenticatedUser, TokenValidator } from '../../src/services/token-validator';
import { call } from '../helpers/http';

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
  const app = express();
  const logger = createLogger({ level: 'silent', service: 'product-service', version: 'test' });
  app.use(requestContext(logger));
  app.post('/guarded', requireAuth(validator), (_req, res) => {
    res.json(authenticatedUser(res));
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

test('bearerTokenOf → the token of a well-formed header; undefined otherwise', (t) => {
  t.is(bearerTokenOf('Bearer abc.def-ghi_jkl'), 'abc.def-ghi_jkl');
  t.is(bearerTokenOf('bearer abc=='), 'abc==');
  t.is(bearerTokenOf('BEARER  abc'), 'abc');
  t.is(bearerTokenOf(`Bearer ${'a'.repeat(4096)}`)?.length, 4096);
  for (const header of [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Basic abc',
    'Bearer a b',
    'Bearer a"b',
    `Bearer ${'a'.repeat(4097)}`,
  ]) {
    t.is(bearerTokenOf(header), undefined, String(header));
  }
});

test('requireAuth → a vouched-for token passes with its user in res.locals and the request id forwarded', async (t) => {
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

test('requireAuth → no or malformed Authorization: 401 Bearer and the validator is never asked', async (t) => {
  const validator = new FakeTokenValidator(() => Promise.resolve(alice));

  await withApp(validator, async (baseUrl) => {
    const headerSets: Record<string, string>[] = [
      {},
      { authorization: 'Basic abc' },
      { authorization: `Bearer ${'x'.repeat(5000)}` },
    ];
    for (const headers of headerSets) {
      const response = await call<ProblemDetails>(baseUrl, 'POST', '/guarded', { headers });
      t.is(response.status, 401);
      t.is(response.headers.get('www-authenticate'), 'Bearer');
      t.is(response.body.type, 'urn:problem-type:unauthorized');
    }
    t.deepEqual(validator.calls, []);
  });
});

test('requireAuth → a refused token: 401 with the validator’s challenge', async (t) => {
  const validator = new FakeTokenValidator(() =>
    Promise.reject(new UnauthorizedError('The bearer token has expired.', 'Bearer error="invalid_token"')),
  );

  await withApp(validator, async (baseUrl) => {
    const response = await call<ProblemDetails>(baseUrl, 'POST', '/guarded', { token: 'old' });

    t.is(response.status, 401);
    t.is(response.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    t.is(response.body.detail, 'The bearer token has expired.');
  });
});

test('requireAuth → validator unavailable: 503 with Retry-After, never a 401', async (t) => {
  const validator = new FakeTokenValidator(() =>
    Promise.reject(new ServiceUnavailableError('no answer', { retryAfterSeconds: 2 })),
  );

  await withApp(validator, async (baseUrl) => {
    const response = await call<ProblemDetails>(baseUrl, 'POST', '/guarded', { token: 'tok' });

    t.is(response.status, 503);
    t.is(response.headers.get('retry-after'), '2');
    t.is(response.headers.get('www-authenticate'), null);
    t.is(response.body.type, 'urn:problem-type:service-unavailable');
  });
});
