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

/** A price as plain decimal digits with at most two places, as `String(price)` writes it. */
const PLAIN_PRICE = /^\d+(?:\.\d{1,2})?$/;

/**
 * The common case of {@link createProductBodySchema} without Joi: returns the value Joi would
 * return when `body` is plainly valid (a plain object of only the four fields, each within
 * its rules), and undefined for everything else — including valid bodies it does not try to
 * judge, such as a price `String()` writes with an exponent — so that Joi decides those and
 * writes every failing field. Joi cost more CPU than the insert's own statement on the write
 * path (docs/benchmarks.md); a property test holds this equal to the schema.
 */
export function plainlyValidProductBody(body: unknown): ProductBody | undefined {
  if (typeof body !== 'object' || body === null || Object.getPrototypeOf(body) !== Object.prototype) return undefined;
  let fields = 0;
  for (const key in body) {
    if (!Object.hasOwn(body, key)) continue;
    if (key !== 'name' && key !== 'description' && key !== 'price' && key !== 'quantity') return undefined;
    fields += 1;
  }
  const { name, description = null, price, quantity } = body as Record<string, unknown>;
  if (fields < 3 || typeof name !== 'string' || typeof price !== 'number' || typeof quantity !== 'number') {
    return undefined;
  }
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > NAME_MAX_LENGTH || !isStorableText(trimmed, CONTROL_CHARACTER)) {
    return undefined;
  }
  if (description !== null && typeof description !== 'string') return undefined;
  if (
    typeof description === 'string' &&
    (description.length > DESCRIPTION_MAX_LENGTH || !isStorableText(description, CONTROL_CHARACTER_BUT_WHITESPACE))
  ) {
    return undefined;
  }
  if (!(price > 0 && price <= MAX_PRICE && PLAIN_PRICE.test(String(price)))) return undefined;
  if (!(Number.isInteger(quantity) && quantity >= 0 && quantity <= MAX_INT4)) return undefined;
  // `+ 0` turns -0 into 0, as Joi does.
  return { name: trimmed, description, price, quantity: quantity + 0 };
}

function isStorableText(value: string, forbidden: RegExp): boolean {
  return !forbidden.test(value) && !LONE_SURROGATE.test(value);
}
