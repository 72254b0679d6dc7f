import test, { type ExecutionContext } from 'ava';
import express from 'express';

import type { ProblemDetails } from '@shop/shared-contracts';
import { call, waitUntil } from '@shop/test-harness';

import { createLogger, RETRY_AFTER_SECONDS, ServiceUnavailableError, UnauthorizedError, type Logger } from '../../src';
import { bearerAuth, bearerTokenOf, errorHandler, requestContext, type BearerAuthenticator } from '../../src/http';
import { lineCollector, serve } from '../helpers/http';

interface Holder {
  userId: number;
  username: string;
  expiresAt: Date;
}

const alice: Holder = { userId: 7, username: 'alice', expiresAt: new Date('2030-01-01T00:00:00Z') };

/** An authenticator that records what it is asked and answers as the test says. */
function fakeAuthenticator(answer: (token: string) => Promise<Holder>) {
  const calls: { token: string; requestId: string }[] = [];
  const authenticate: BearerAuthenticator<Holder> = (token, context) => {
    calls.push({ token, requestId: context.requestId });
    return answer(token);
  };
  return { authenticate, calls };
}

const silent = createLogger({ level: 'silent', service: 'test-service', version: 'test' });

/** A minimal app: requireAuth in front of a route that echoes the holder it let through. */
async function serveGuarded(
  t: ExecutionContext,
  authenticate: BearerAuthenticator<Holder>,
  logger: Logger = silent,
): Promise<string> {
  const auth = bearerAuth(authenticate);
  const app = express();
  app.use(requestContext(logger));
  app.post('/guarded', auth.requireAuth, (_req, res) => {
    res.json(auth.identityOf(res));
  });
  // A route that forgot requireAuth: asking for the holder there is a bug.
  app.post('/unguarded', (_req, res) => {
    res.json(auth.identityOf(res));
  });
  app.use(errorHandler(logger));
  return serve(t, app);
}

test('bearerTokenOf → the token of a well-formed header (RFC 6750 b64token); undefined otherwise', (t) => {
  t.is(bearerTokenOf('Bearer abc.def-ghi_jkl'), 'abc.def-ghi_jkl');
  t.is(bearerTokenOf('bearer abc=='), 'abc==');
  t.is(bearerTokenOf('BEARER  abc'), 'abc');
  t.is(bearerTokenOf('Bearer a~b+c/d'), 'a~b+c/d');
  t.is(bearerTokenOf(`Bearer ${'a'.repeat(4096)}`)?.length, 4096);
  for (const header of [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Basic abc',
    'Bearer a b',
    'Bearer a"b',
    'Bearer a,b',
    'Bearer abc, Basic def',
    'Bearer a=b',
    `Bearer ${'a'.repeat(4097)}`,
  ]) {
    t.is(bearerTokenOf(header), undefined, String(header));
  }
});

test('bearerAuth.requireAuth → a vouched-for token passes, its holder in res.locals as the authenticator returned it, the request id forwarded', async (t) => {
  const { authenticate, calls } = fakeAuthenticator(() => Promise.resolve(alice));
  const baseUrl = await serveGuarded(t, authenticate);

  const response = await call(baseUrl, 'POST', '/guarded', { token: 'tok-1', headers: { 'x-request-id': 'req-77' } });

  t.is(response.status, 200);
  t.deepEqual(response.body, { ...alice, expiresAt: alice.expiresAt.toISOString() });
  t.deepEqual(calls, [{ token: 'tok-1', requestId: 'req-77' }]);
});

test('bearerAuth.requireAuth → no or malformed Authorization: 401 with a plain Bearer challenge, and the authenticator is never asked', async (t) => {
  const { authenticate, calls } = fakeAuthenticator(() => Promise.resolve(alice));
  const baseUrl = await serveGuarded(t, authenticate);
  const headerSets: Record<string, string>[] = [
    {},
    { authorization: 'Basic abc' },
    { authorization: 'Bearer a b' },
    { authorization: `Bearer ${'x'.repeat(5000)}` },
  ];

  for (const headers of headerSets) {
    const response = await call<ProblemDetails>(baseUrl, 'POST', '/guarded', { headers });

    t.is(response.status, 401);
    t.is(response.headers.get('www-authenticate'), 'Bearer');
    t.is(response.body.type, 'urn:problem-type:unauthorized');
  }
  t.deepEqual(calls, []);
});

test('bearerAuth.requireAuth → a refused token: 401 with the authenticator’s challenge and detail', async (t) => {
  const { authenticate } = fakeAuthenticator(() =>
    Promise.reject(new UnauthorizedError('The bearer token has expired.', 'Bearer error="invalid_token"')),
  );
  const baseUrl = await serveGuarded(t, authenticate);

  const response = await call<ProblemDetails>(baseUrl, 'POST', '/guarded', { token: 'old' });

  t.is(response.status, 401);
  t.is(response.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  t.is(response.body.detail, 'The bearer token has expired.');
});

test('bearerAuth.requireAuth → the authenticator cannot tell: its 503 goes out as it is, with Retry-After, never a 401', async (t) => {
  const { authenticate } = fakeAuthenticator(() => Promise.reject(new ServiceUnavailableError('no answer')));
  const baseUrl = await serveGuarded(t, authenticate);

  const response = await call<ProblemDetails>(baseUrl, 'POST', '/guarded', { token: 'tok' });

  t.is(response.status, 503);
  t.is(response.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
  t.is(response.headers.get('www-authenticate'), null);
  t.is(response.body.type, 'urn:problem-type:service-unavailable');
});

test('bearerAuth.requireAuth → the access line of the request names the holder', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'info',
    service: 'test-service',
    version: 'test',
    destination: lineCollector(lines),
  });
  const { authenticate } = fakeAuthenticator(() => Promise.resolve(alice));
  const baseUrl = await serveGuarded(t, authenticate, logger);

  await call(baseUrl, 'POST', '/guarded', { token: 'tok-1', headers: { 'x-request-id': 'req-access' } });

  // The access line is written once the response has gone out.
  const accessLine = () =>
    lines
      .map((line) => JSON.parse(line) as { request_id?: string; user_id?: number; msg: string })
      .find((line) => line.request_id === 'req-access' && line.msg === 'request completed');
  await waitUntil(() => accessLine() !== undefined, 'the access line', { intervalMs: 5 });
  t.is(accessLine()?.user_id, alice.userId);
});

test('bearerAuth.identityOf on a route without requireAuth → 500: a bug, not a 401', async (t) => {
  const { authenticate } = fakeAuthenticator(() => Promise.resolve(alice));
  const baseUrl = await serveGuarded(t, authenticate);

  const response = await call<ProblemDetails>(baseUrl, 'POST', '/unguarded', { token: 'tok-1' });

  t.is(response.status, 500);
  t.is(response.body.type, 'urn:problem-type:internal');
});
