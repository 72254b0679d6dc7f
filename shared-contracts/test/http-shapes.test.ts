import test from 'ava';

import {
  COMMON_OPENAPI_SCHEMAS,
  ERROR_CODES,
  type ErrorCode,
  isSafeRequestId,
  accessTokenResponseSchema,
  problemDetailsSchema,
  problemType,
  publicUserSchema,
  validateMessage,
} from '../src';

test('problemType → a URN per error code', (t) => {
  t.is(problemType('validation_failed'), 'urn:problem-type:validation-failed');
  t.is(problemType('idempotency_key_reused'), 'urn:problem-type:idempotency-key-reused');
});

test('ERROR_CODES → the statuses of the contract table', (t) => {
  const statuses = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status]));
  t.like(statuses, {
    malformed_request: 400,
    unauthorized: 401,
    forbidden: 403,
    not_found: 404,
    conflict: 409,
    idempotency_key_in_use: 409,
    precondition_failed: 412,
    payload_too_large: 413,
    unsupported_media_type: 415,
    validation_failed: 422,
    idempotency_key_reused: 422,
    rate_limited: 429,
    service_unavailable: 503,
  });
});

test('problem details: a validation problem with its field errors passes', (t) => {
  const problem = {
    type: problemType('validation_failed'),
    title: 'Validation failed',
    status: 422,
    detail: 'The request has 1 invalid field.',
    instance: '/products',
    request_id: 'abc',
    errors: [{ path: 'body.price', message: '"price" must be greater than 0', type: 'number.greater' }],
  };
  t.true(validateMessage(problemDetailsSchema, problem).ok);
});

test('problem details: a body without request_id or with a 2xx status is rejected', (t) => {
  t.false(validateMessage(problemDetailsSchema, { type: 't', title: 't', status: 200, detail: 'd', instance: '/' }).ok);
});

test('public user: a password hash is not part of the shape', (t) => {
  const user = {
    id: 1,
    username: 'alice',
    is_active: true,
    created_at: '2026-11-24T10:00:00.000Z',
    updated_at: '2026-11-24T10:00:00.000Z',
  };
  t.true(validateMessage(publicUserSchema, user).ok);
  t.false(validateMessage(publicUserSchema, { ...user, hashed_password: 'x' }).ok);
});

test('access token response: token_type must be bearer', (t) => {
  t.true(validateMessage(accessTokenResponseSchema, { access_token: 'a', token_type: 'bearer', expires_in: 1800 }).ok);
  t.false(validateMessage(accessTokenResponseSchema, { access_token: 'a', token_type: 'mac', expires_in: 1800 }).ok);
});

test('isSafeRequestId → accepts uuids and short tokens, refuses long, spaced or control-character values', (t) => {
  t.true(isSafeRequestId('3f0c2a9e-1b7d-4c39-9f0e-2d8c1e6f7a10'));
  t.true(isSafeRequestId('req-42'));
  t.false(isSafeRequestId(''));
  t.false(isSafeRequestId('a'.repeat(129)));
  t.false(isSafeRequestId('id with spaces'));
  t.false(isSafeRequestId('line\nbreak'));
  t.false(isSafeRequestId(42));
});

test('COMMON_OPENAPI_SCHEMAS → the Problem schema names every error code and every required field', (t) => {
  const { Problem } = COMMON_OPENAPI_SCHEMAS;
  t.deepEqual(
    [...Problem.properties.type.enum],
    Object.keys(ERROR_CODES).map((code) => problemType(code as ErrorCode)),
  );
  t.deepEqual([...Problem.required], ['type', 'title', 'status', 'detail', 'instance', 'request_id']);
});
