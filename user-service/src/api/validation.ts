import type Joi from 'joi';

import type { FieldError } from '@shop/shared-contracts';

import { ValidationError } from '../errors';

export type RequestPart = 'body' | 'query' | 'params';

/**
 * Checks one part of a request against its schema and returns the typed, converted value,
 * or throws a ValidationError listing every failing field (`body.price`, `query.limit`).
 */
export function parse<T>(schema: Joi.Schema<T>, value: unknown, part: RequestPart): T {
  // Bodies are taken as sent (a JSON string is not a number); query and path strings are converted.
  const result = schema.validate(value ?? {}, { abortEarly: false, convert: part !== 'body' });
  if (result.error) {
    const errors: FieldError[] = result.error.details.map((detail) => ({
      path: [part, ...detail.path].join('.'),
      message: detail.message,
      type: detail.type,
    }));
    throw new ValidationError(errors);
  }
  return result.value;
}
