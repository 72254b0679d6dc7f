import { createHash } from 'node:crypto';
import type { Request } from 'express';

import { AppError } from '@shop/shared-runtime';

/** The request header (draft-ietf-httpapi-idempotency-key-header) and its bounds. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

/** 1–255 printable ASCII characters (space to `~`); any uuid, ULID or Stripe-style key fits. */
const PRINTABLE_ASCII_KEY = new RegExp(`^[\\x20-\\x7e]{1,${IDEMPOTENCY_KEY_MAX_LENGTH}}$`);

/**
 * The request's `Idempotency-Key`, undefined when it sent none; anything but one header of 1–255
 * printable ASCII characters is a 400 naming the header (two headers would otherwise be joined
 * into one key by Node, silently).
 */
export function idempotencyKeyOf(req: Request): string | undefined {
  const values = req.headersDistinct['idempotency-key'];
  if (values === undefined) return undefined;
  const [value] = values;
  if (values.length === 1 && value !== undefined && PRINTABLE_ASCII_KEY.test(value)) return value;
  throw new AppError(
    'malformed_request',
    `The ${IDEMPOTENCY_KEY_HEADER} header must be sent once, as 1–${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters.`,
  );
}

/**
 * SHA-256 (hex) of the canonical JSON of a validated body: keys sorted at every level, so a
 * repeat counts as the same request however its client ordered the keys or spaced the JSON,
 * and defaults and trimming applied, since the fingerprint is of what would be stored.
 */
export function bodyFingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** JSON with object keys in code-point order; numbers and strings as JSON.stringify writes them. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, field]) => field !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, field]) => `${JSON.stringify(key)}:${canonicalJson(field)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
