import test from 'ava';

import {
  MAX_TOKEN_LENGTH,
  decodeMessage,
  validateMessage,
  validateTokenReplySchema,
  validateTokenRequestSchema,
} from '../src';

const validReply = { valid: true, user_id: 7, username: 'alice', expires_at: '2026-11-24T10:00:00.000Z' };

test('request: a token string passes', (t) => {
  t.deepEqual(validateMessage(validateTokenRequestSchema, { token: 'a.b.c' }), {
    ok: true,
    value: { token: 'a.b.c' },
  });
});

const malformedRequests: [string, unknown, RegExp][] = [
  ['missing token', {}, /"token" is required/],
  ['token of the wrong type', { token: 42 }, /"token" must be a string/],
  ['empty token', { token: '' }, /"token" is not allowed to be empty/],
  ['oversized token', { token: 'x'.repeat(MAX_TOKEN_LENGTH + 1) }, /"token" length must be less than or equal to 4096/],
  ['unknown field', { token: 'a.b.c', admin: true }, /"admin" is not allowed/],
  ['an array body', ['a.b.c'], /must be of type object/],
  ['a null body', null, /must be of type object/],
];

for (const [name, body, message] of malformedRequests) {
  test(`request: ${name} is rejected with a clear message`, (t) => {
    const result = validateMessage(validateTokenRequestSchema, body);
    t.false(result.ok);
    t.regex(result.ok ? '' : result.error, message);
  });
}

test('request: every failing field is listed, not only the first', (t) => {
  const result = validateMessage(validateTokenRequestSchema, { token: 1, extra: 2 });
  t.false(result.ok);
  t.regex(result.ok ? '' : result.error, /"token" must be a string; "extra" is not allowed/);
});

const validReplies: [string, unknown][] = [
  ['valid', validReply],
  ['invalid', { valid: false, reason: 'expired' }],
  ['error', { error: { code: 'bad_request', message: 'token is required' } }],
];

for (const [name, body] of validReplies) {
  test(`reply: the ${name} shape passes`, (t) => {
    t.deepEqual(validateMessage(validateTokenReplySchema, body), { ok: true, value: body });
  });
}

const malformedReplies: [string, unknown][] = [
  ['valid without user_id', { ...validReply, user_id: undefined }],
  ['valid with a string user_id', { ...validReply, user_id: '7' }],
  ['valid with a bad expires_at', { ...validReply, expires_at: 'tomorrow' }],
  ['invalid with an unknown reason', { valid: false, reason: 'sunspots' }],
  ['invalid carrying a username', { valid: false, reason: 'expired', username: 'alice' }],
  ['error with an unknown code', { error: { code: 'teapot', message: 'no' } }],
  ['an unknown variant', { status: 'ok' }],
  ['two variants at once', { ...validReply, error: { code: 'internal', message: 'x' } }],
  ['a string', 'valid'],
];

for (const [name, body] of malformedReplies) {
  test(`reply: ${name} is rejected`, (t) => {
    const result = validateMessage(validateTokenReplySchema, body);
    t.false(result.ok);
    t.true(!result.ok && result.error.length > 0);
  });
}

test('reply: an unknown variant is named as such', (t) => {
  const result = validateMessage(validateTokenReplySchema, { status: 'ok' });
  t.regex(result.ok ? '' : result.error, /not a valid-token, invalid-token or error reply/);
});

test('decodeMessage → parses a JSON buffer against the schema', (t) => {
  t.deepEqual(decodeMessage(validateTokenRequestSchema, Buffer.from('{"token":"a.b.c"}')), {
    ok: true,
    value: { token: 'a.b.c' },
  });
});

test('decodeMessage → a non-JSON body is an error, not a throw', (t) => {
  t.deepEqual(decodeMessage(validateTokenRequestSchema, Buffer.from('not json')), {
    ok: false,
    error: 'message body is not valid JSON',
  });
});
