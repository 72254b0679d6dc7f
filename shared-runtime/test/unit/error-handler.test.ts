import test, { type ExecutionContext } from 'ava';
import express from 'express';

import type { ProblemDetails } from '@shop/shared-contracts';
import { call, expectProblem, waitUntil } from '@shop/test-harness';

import {
  ConflictError,
  PreconditionFailedError,
  createLogger,
  RETRY_AFTER_SECONDS,
  ServiceUnavailableError,
  UnauthorizedError,
  ValidationError,
} from '../../src';
import { errorHandler, jsonBody, notFoundHandler, requestContext } from '../../src/http';
import { lineCollector, serve } from '../helpers/http';

/** A pino line as the tests read it. */
interface LogLine {
  level: number;
  msg: string;
  request_id?: string;
  code?: string;
  err?: { message?: string; stack?: string };
}

/** pino's numeric levels. */
const WARN = 40;
const ERROR = 50;

/**
 * An app of routes that throw each kind of error, behind the request context and the JSON
 * parser (limit 1 KiB), with the 404 handler and the error handler last, as every service has.
 */
async function serveThrowing(t: ExecutionContext): Promise<{ baseUrl: string; logs: () => LogLine[] }> {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'info',
    service: 'test-service',
    version: 'test',
    destination: lineCollector(lines),
  });
  const app = express();
  app.use(requestContext(logger));
  app.use(jsonBody(1024));
  app.post('/echo', (req, res) => {
    res.json(req.body);
  });
  app.get('/items/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  app.get('/conflict', () => {
    throw new ConflictError('That name is already taken.');
  });
  app.get('/invalid', () => {
    throw new ValidationError([
      { path: 'query.limit', message: '"limit" must be a number', type: 'number.base' },
      { path: 'query.offset', message: '"offset" must be a number', type: 'number.base' },
    ]);
  });
  app.get('/stale', () => {
    throw new PreconditionFailedError('Product 1 has changed since version 2.', '"3"');
  });
  app.get('/unauthorized', () => {
    throw new UnauthorizedError('The bearer token has expired.', 'Bearer error="invalid_token"');
  });
  app.get('/unavailable', () => {
    throw new ServiceUnavailableError('The database is unavailable; try again shortly.', {
      cause: new Error('connect ECONNREFUSED 127.0.0.1:5432'),
    });
  });
  app.get('/bug', () => {
    throw new TypeError("Cannot read properties of undefined (reading 'id') at select * from users");
  });
  // Express 5 forwards a rejected promise to the error handler.
  app.get('/async-bug', async () => {
    await Promise.resolve();
    throw new Error('a promise rejected deep inside');
  });
  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  const baseUrl = await serve(t, app);
  return { baseUrl, logs: () => lines.map((line) => JSON.parse(line) as LogLine) };
}

test('errorHandler: an AppError → problem+json with its code’s status, type and title, its detail, the path as instance and the request id', async (t) => {
  const { baseUrl } = await serveThrowing(t);

  const response = await call(baseUrl, 'GET', '/conflict?secret=1', { headers: { 'x-request-id': 'req-conflict' } });

  const problem = expectProblem(t, response, 409);
  t.deepEqual(problem, {
    type: 'urn:problem-type:conflict',
    title: 'Conflict',
    status: 409,
    detail: 'That name is already taken.',
    instance: '/conflict',
    request_id: 'req-conflict',
  });
});

test('errorHandler: a PreconditionFailedError → 412 whose body carries the current etag', async (t) => {
  const { baseUrl } = await serveThrowing(t);

  const response = await call(baseUrl, 'GET', '/stale');

  const problem = expectProblem(t, response, 412);
  t.like(problem, { type: 'urn:problem-type:precondition-failed', title: 'Precondition failed', etag: '"3"' });
});

test('errorHandler: a ValidationError → 422 listing every failing field', async (t) => {
  const { baseUrl } = await serveThrowing(t);

  const response = await call(baseUrl, 'GET', '/invalid');

  const problem = expectProblem(t, response, 422);
  t.is(problem.type, 'urn:problem-type:validation-failed');
  t.deepEqual(
    problem.errors?.map((error) => error.path),
    ['query.limit', 'query.offset'],
  );
});

test('errorHandler: an error’s headers go out with it (WWW-Authenticate of a 401, Retry-After of a 503)', async (t) => {
  const { baseUrl } = await serveThrowing(t);

  const unauthorized = await call(baseUrl, 'GET', '/unauthorized');
  const unavailable = await call(baseUrl, 'GET', '/unavailable');

  expectProblem(t, unauthorized, 401);
  t.is(unauthorized.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  expectProblem(t, unavailable, 503);
  t.is(unavailable.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
});

test('errorHandler: a 5xx AppError → logged at warn with its cause; a 4xx one is not logged by the handler', async (t) => {
  const { baseUrl, logs } = await serveThrowing(t);

  await call(baseUrl, 'GET', '/unavailable', { headers: { 'x-request-id': 'req-503' } });
  await call(baseUrl, 'GET', '/conflict', { headers: { 'x-request-id': 'req-409' } });
  // The access lines are written once the responses have gone out: every line is in after them.
  const completed = (requestId: string) =>
    logs().some((line) => line.request_id === requestId && line.msg === 'request completed');
  await waitUntil(() => completed('req-503') && completed('req-409'), 'both access lines', { intervalMs: 5 });

  const warned = logs().filter((line) => line.request_id === 'req-503' && line.code === 'service_unavailable');
  t.is(warned.length, 1);
  t.is(warned[0]?.level, WARN);
  t.is(warned[0]?.msg, 'The database is unavailable; try again shortly.');
  t.regex(warned[0]?.err?.message ?? '', /ECONNREFUSED/, 'the cause, for whoever reads the logs');
  t.deepEqual(
    logs()
      .filter((line) => line.request_id === 'req-409')
      .map((line) => line.msg),
    ['request completed'],
    'only the access line',
  );
});

test('errorHandler: an unknown error → 500 without any of its details, logged at error with its stack', async (t) => {
  const { baseUrl, logs } = await serveThrowing(t);

  for (const [path, requestId] of [
    ['/bug', 'req-bug'],
    ['/async-bug', 'req-async-bug'],
  ] as const) {
    const response = await call(baseUrl, 'GET', path, { headers: { 'x-request-id': requestId } });

    const problem = expectProblem(t, response, 500);
    t.is(problem.type, 'urn:problem-type:internal');
    t.is(problem.detail, 'Something went wrong on our side; it has been logged.');
    t.notRegex(response.text, /Cannot read|deep inside|users/);
    const logged = logs().find((line) => line.request_id === requestId && line.msg === 'unhandled error');
    t.is(logged?.level, ERROR);
    t.regex(logged?.err?.stack ?? '', /Error: .*\n\s+at /, 'the stack, to find the bug');
  }
});

test('notFoundHandler → 404 naming the method and path', async (t) => {
  const { baseUrl } = await serveThrowing(t);

  const response = await call(baseUrl, 'DELETE', '/nowhere');

  const problem = expectProblem(t, response, 404);
  t.is(problem.type, 'urn:problem-type:not-found');
  t.is(problem.detail, 'No route for DELETE /nowhere.');
});

test('errorHandler: body-parser’s errors → the contract’s codes, never a 500', async (t) => {
  const { baseUrl } = await serveThrowing(t);
  const cases: { name: string; raw: string; headers?: Record<string, string>; status: number; type: string }[] = [
    { name: 'JSON that does not parse', raw: '{"name":', status: 400, type: 'malformed-request' },
    {
      name: 'a body over the limit',
      raw: JSON.stringify({ text: 'x'.repeat(2048) }),
      status: 413,
      type: 'payload-too-large',
    },
    {
      name: 'an unsupported charset',
      raw: '{}',
      headers: { 'content-type': 'application/json; charset=x-unknown' },
      status: 415,
      type: 'unsupported-media-type',
    },
    {
      name: 'an unsupported content encoding',
      raw: '{}',
      headers: { 'content-encoding': 'x-unknown' },
      status: 415,
      type: 'unsupported-media-type',
    },
  ];

  for (const { name, raw, headers, status, type } of cases) {
    const response = await call<ProblemDetails>(baseUrl, 'POST', '/echo', {
      raw,
      contentType: 'application/json',
      headers: headers ?? {},
    });

    expectProblem(t, response, status);
    t.is(response.body.type, `urn:problem-type:${type}`, name);
  }
});

test('errorHandler: errors Express raises without a type (a path that is not valid percent-encoding) → 400 by their status', async (t) => {
  const { baseUrl } = await serveThrowing(t);

  const response = await call<ProblemDetails>(baseUrl, 'GET', '/items/%E0%A4%A');

  expectProblem(t, response, 400);
  t.is(response.body.type, 'urn:problem-type:malformed-request');
});

test('errorHandler: markup in the path → escaped in the problem, never read as HTML', async (t) => {
  const { baseUrl } = await serveThrowing(t);

  const response = await call<ProblemDetails>(baseUrl, 'GET', '/<script>alert(1)</script>');

  expectProblem(t, response, 404);
  t.notRegex(response.text, /<script>/);
  t.regex(response.text, /\\u003cscript\\u003e/);
  t.is(response.body.instance, '/<script>alert(1)</script>');
});
