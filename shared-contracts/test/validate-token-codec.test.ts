import test from 'ava';
import fc from 'fast-check';

import {
  INVALID_TOKEN_REASONS,
  decodeMessage,
  decodeValidateTokenReply,
  decodeValidateTokenRequest,
  validateTokenReplySchema,
  validateTokenRequestSchema,
} from '../src';

import { nearInstant } from './arbitraries';

// The fast decoders must answer exactly as the Joi schemas do, message for message: the
// arbitraries below stay near the accepted shapes, where a shortcut would most likely differ.

const nearToken = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constant(''),
  fc.string({ minLength: 4090, maxLength: 4100 }),
  fc.integer(),
  fc.constant(null),
);

const requestBodies = fc.oneof(
  fc.record({ token: nearToken }),
  fc.record({ token: nearToken, extra: fc.jsonValue() }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 3 }),
  fc.jsonValue(),
);

const userId = fc.oneof(
  fc.integer({ min: -5, max: 2 ** 31 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constant(Number.MAX_SAFE_INTEGER + 2),
  fc.constant('7'),
);

const replyBodies = fc.oneof(
  fc.record({
    valid: fc.constant(true),
    user_id: userId,
    username: fc.string({ maxLength: 12 }),
    expires_at: nearInstant,
  }),
  fc.record(
    { valid: fc.constant(true), user_id: userId, username: fc.string(), expires_at: nearInstant, jti: fc.string() },
    { requiredKeys: ['valid', 'user_id'] },
  ),
  fc.record({
    valid: fc.constantFrom(false, true, 'false', 0),
    reason: fc.oneof(fc.constantFrom(...INVALID_TOKEN_REASONS), fc.string({ maxLength: 12 })),
  }),
  fc.record({ error: fc.record({ code: fc.constantFrom('bad_request', 'internal', 'other'), message: fc.string() }) }),
  fc.jsonValue(),
);

function bothWays(body: unknown): string[] {
  const text = JSON.stringify(body);
  return [text, `${text} `, text.slice(0, -1)];
}

test('decodeValidateTokenRequest → the same answer as the Joi schema, on generated bodies', (t) => {
  fc.assert(
    fc.property(requestBodies, (body) => {
      for (const text of bothWays(body)) {
        t.deepEqual(decodeValidateTokenRequest(text), decodeMessage(validateTokenRequestSchema, text), text);
      }
    }),
    { numRuns: 2000 },
  );
});

test('decodeValidateTokenReply → the same answer as the Joi schema, on generated bodies', (t) => {
  fc.assert(
    fc.property(replyBodies, (body) => {
      for (const text of bothWays(body)) {
        t.deepEqual(decodeValidateTokenReply(text), decodeMessage(validateTokenReplySchema, text), text);
      }
    }),
    { numRuns: 3000 },
  );
});

test('the fast path takes the common shapes from a Buffer, as AMQP delivers them', (t) => {
  const expiresAt = new Date('2026-11-24T10:30:00.000Z').toISOString();
  t.deepEqual(decodeValidateTokenRequest(Buffer.from('{"token":"abc.def.ghi"}')), {
    ok: true,
    value: { token: 'abc.def.ghi' },
  });
  t.deepEqual(
    decodeValidateTokenReply(
      Buffer.from(JSON.stringify({ valid: true, user_id: 7, username: 'alice', expires_at: expiresAt })),
    ),
    { ok: true, value: { valid: true, user_id: 7, username: 'alice', expires_at: expiresAt } },
  );
  t.deepEqual(decodeValidateTokenReply(Buffer.from('{"valid":false,"reason":"revoked"}')), {
    ok: true,
    value: { valid: false, reason: 'revoked' },
  });
});
