import Joi from 'joi';

/** Largest id, quantity and PostgreSQL `integer`: 2^31 − 1. */
export const MAX_INT4 = 2_147_483_647;

/** Largest price NUMERIC(12,2) holds. */
export const MAX_PRICE = 9_999_999_999.99;

/** Page size when `limit` is not given, and the largest one allowed. */
export const MAX_PAGE_SIZE = 100;

export const NAME_MAX_LENGTH = 255;
export const DESCRIPTION_MAX_LENGTH = 1000;

/** A product body as the client sends it; `price` is still the JSON number. */
export interface ProductBody {
  name: string;
  description: string | null;
  price: number;
  quantity: number;
}

export interface ListProductsQuery {
  skip: number;
  limit: number;
}

/** C0 and C1 control characters and DEL (Unicode category Cc). */
const CONTROL_CHARACTER = /\p{Cc}/u;
/** The same, less tab, line feed and carriage return, which a description may hold. */
const CONTROL_CHARACTER_BUT_WHITESPACE = /(?![\t\n\r])\p{Cc}/u;
/** A UTF-16 surrogate without its partner: not a character; it would be stored as U+FFFD. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Text stored exactly as sent: PostgreSQL cannot hold NUL, and a lone surrogate would come back
 * as U+FFFD, so both are refused rather than silently changed.
 */
const text = (forbidden: RegExp) =>
  Joi.string()
    .custom((value: string, helpers) => {
      if (forbidden.test(value)) return helpers.error('string.controlCharacter');
      if (LONE_SURROGATE.test(value)) return helpers.error('string.loneSurrogate');
      return value;
    })
    .messages({
      'string.controlCharacter': '{{#label}} must not contain control characters',
      'string.loneSurrogate': '{{#label}} must be valid Unicode text (it has a lone surrogate)',
    });

// Bodies are validated without conversion (a "12.50" string is not a price), but a name is
// trimmed first, so its own preferences turn conversion back on.
const name = text(CONTROL_CHARACTER).trim().min(1).max(NAME_MAX_LENGTH).prefs({ convert: true });

const description = text(CONTROL_CHARACTER_BUT_WHITESPACE).allow('', null).max(DESCRIPTION_MAX_LENGTH);

/** A JSON number, never a string; > 0, at most 2 decimals, fits NUMERIC(12,2). */
const price = Joi.number()
  .strict()
  .greater(0)
  .max(MAX_PRICE)
  .precision(2)
  .messages({ 'number.precision': '{{#label}} must have at most 2 decimals' });

const quantity = Joi.number().strict().integer().min(0).max(MAX_INT4);

export const createProductBodySchema: Joi.ObjectSchema<ProductBody> = Joi.object<ProductBody>({
  name: name.required(),
  description: description.default(null),
  price: price.required(),
  quantity: quantity.required(),
}).required();

/** PUT and PATCH alike: any non-empty subset of the fields; absent fields keep their value. */
export const updateProductBodySchema: Joi.ObjectSchema<Partial<ProductBody>> = Joi.object<Partial<ProductBody>>({
  name,
  description,
  price,
  quantity,
})
  .min(1)
  .messages({ 'object.min': '{{#label}} must contain at least one field to change' })
  .required();

/**
 * A whole number in a path or query string, written as plain decimal digits: `1e3`, ` 1` and
 * `+1` would convert to numbers, but no client means them, and one resource gets one URL.
 */
const decimalInteger = Joi.number()
  .custom((value: number, helpers) => {
    const written: unknown = helpers.original;
    return typeof written === 'string' && !/^-?\d+(\.\d+)?$/.test(written)
      ? helpers.error('number.decimalDigits')
      : value;
  })
  .messages({ 'number.decimalDigits': '{{#label}} must be written in plain decimal digits' })
  .integer();

export const listProductsQuerySchema: Joi.ObjectSchema<ListProductsQuery> = Joi.object<ListProductsQuery>({
  skip: decimalInteger.min(0).default(0),
  limit: decimalInteger.min(1).max(MAX_PAGE_SIZE).default(MAX_PAGE_SIZE),
}).unknown(true);

export const productIdParamsSchema: Joi.ObjectSchema<{ id: number }> = Joi.object<{ id: number }>({
  id: decimalInteger.min(1).max(MAX_INT4).required(),
}).required();
