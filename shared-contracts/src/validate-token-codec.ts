import { validateMessage, type DecodeResult } from './decode-message';
import {
  INVALID_TOKEN_REASONS,
  MAX_TOKEN_LENGTH,
  validateTokenReplySchema,
  validateTokenRequestSchema,
  type InvalidTokenReason,
  type ValidateTokenReply,
  type ValidateTokenRequest,
} from './validate-token';

/**
 * Decoders of the token-validation RPC's bodies that answer exactly as `decodeMessage` with the
 * Joi schema would, but check the shapes every call carries with plain type checks first: the
 * RPC is the hot path of every authorised write, and Joi's walk of the schema was a tenth of a
 * round trip's CPU on each side (docs/benchmarks.md). Anything the fast path does not accept
 * outright goes to the schema, so the answers — and the error messages — are the schema's.
 */

/** `JSON.stringify(new Date())`'s form: the only timestamp form the fast path takes. */
const CANONICAL_ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const REASONS: ReadonlySet<string> = new Set(INVALID_TOKEN_REASONS);

/** Reads an `auth.validate_token` request body. Never throws. */
export function decodeValidateTokenRequest(content: Uint8Array | string): DecodeResult<ValidateTokenRequest> {
  const parsed = parseJson(content);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  if (isPlainObject(value) && hasExactlyKeys(value, 1)) {
    const { token } = value as { token?: unknown };
    if (typeof token === 'string' && token.length > 0 && token.length <= MAX_TOKEN_LENGTH) {
      return { ok: true, value: { token } };
    }
  }
  return validateMessage(validateTokenRequestSchema, value);
}

/** Reads an `auth.validate_token.reply` body. Never throws. */
export function decodeValidateTokenReply(content: Uint8Array | string): DecodeResult<ValidateTokenReply> {
  const parsed = parseJson(content);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  if (isPlainObject(value)) {
    const reply = value as Record<string, unknown>;
    if (reply.valid === true && hasExactlyKeys(reply, 4)) {
      const { user_id: userId, username, expires_at: expiresAt } = reply;
      if (
        typeof userId === 'number' &&
        Number.isSafeInteger(userId) &&
        userId > 0 &&
        typeof username === 'string' &&
        username.length > 0 &&
        isCanonicalInstant(expiresAt)
      ) {
        return { ok: true, value: { valid: true, user_id: userId, username, expires_at: expiresAt } };
      }
    } else if (reply.valid === false && hasExactlyKeys(reply, 2)) {
      const { reason } = reply;
      if (typeof reason === 'string' && REASONS.has(reason)) {
        return { ok: true, value: { valid: false, reason: reason as InvalidTokenReason } };
      }
    }
  }
  return validateMessage(validateTokenReplySchema, value);
}

function parseJson(content: Uint8Array | string): DecodeResult<unknown> {
  try {
    return {
      ok: true,
      value: JSON.parse(typeof content === 'string' ? content : Buffer.from(content).toString('utf8')),
    };
  } catch {
    return { ok: false, error: 'message body is not valid JSON' };
  }
}

/** A JSON object (not an array, not null). */
export function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own enumerable keys, counted without building the key array. */
export function hasExactlyKeys(value: object, count: number): boolean {
  let keys = 0;
  for (const key in value) {
    if (Object.hasOwn(value, key)) keys += 1;
  }
  return keys === count;
}

/** An instant written exactly as `Date.prototype.toISOString()` writes it. */
export function isCanonicalInstant(value: unknown): value is string {
  if (typeof value !== 'string' || !CANONICAL_ISO_INSTANT.test(value)) return false;
  const time = Date.parse(value);
  return !Number.isNaN(time) && new Date(time).toISOString() === value;
}
