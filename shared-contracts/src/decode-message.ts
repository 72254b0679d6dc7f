import type Joi from 'joi';

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Parses a message body as JSON and checks it against a contract schema.
 * Never throws: a poison message must become an answer, not a crash.
 *
 * @param content raw message body (AMQP content is a Buffer)
 */
export function decodeMessage<T>(schema: Joi.Schema<T>, content: Uint8Array | string): DecodeResult<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof content === 'string' ? content : Buffer.from(content).toString('utf8'));
  } catch {
    return { ok: false, error: 'message body is not valid JSON' };
  }
  return validateMessage(schema, parsed);
}

/** Checks an already-parsed value against a contract schema, listing every problem. */
export function validateMessage<T>(schema: Joi.Schema<T>, value: unknown): DecodeResult<T> {
  const result = schema.validate(value, { abortEarly: false, convert: false });
  if (result.error) {
    return { ok: false, error: result.error.details.map((detail) => detail.message).join('; ') };
  }
  return { ok: true, value: result.value };
}
