import type Joi from 'joi';

import type { FieldError } from '@shop/shared-contracts';

import { ValidationError } from '../errors';

export type RequestPart = 'body' | 'query' | 'params';

/**
 * Checks one part of a request against its schema and returns the typed, converted value,
 * or throws a ValidationError listing every failing field (`body.price`, `query.limit`).
 */
export function parse<T>(schema: Joi.Schema<T>, value: unknown, part: RequestPart): T {
  const result = check(schema, value, part);
  if (result.errors.length > 0) throw new ValidationError(result.errors);
  return result.value;
}

/** Like {@link parse} for the path and the body at once, so one 422 lists the failures of both. */
export function parseParamsAndBody<P, B>(
  req: { params: unknown; body: unknown },
  schemas: { params: Joi.Schema<P>; body: Joi.Schema<B> },
): { params: P; body: B } {
  const params = check(schemas.params, req.params, 'params');
  const body = check(schemas.body, req.body, 'body');
  const errors = [...params.errors, ...body.errors];
  if (errors.length > 0) throw new ValidationError(errors);
  return { params: params.value, body: body.value };
}

function check<T>(schema: Joi.Schema<T>, value: unknown, part: RequestPart): { value: T; errors: FieldError[] } {
  // Bodies are taken as sent (a JSON string is not a number); query and path strings are converted.
  const result = schema.validate(value ?? {}, { abortEarly: false, convert: part !== 'body' });
  const errors: FieldError[] = (result.error?.details ?? []).map((detail) => ({
    path: [part, ...detail.path].join('.'),
    message: detail.message,
    type: detail.type,
  }));
  return { value: result.value as T, errors };
}
