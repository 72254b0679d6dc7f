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

// Bodies are validated without conversion (a "12.50" string is not a price), but a name is
// trimmed first, so its own preferences turn conversion back on.
const name = Joi.string().trim().min(1).max(NAME_MAX_LENGTH).prefs({ convert: true });

const description = Joi.string().allow('', null).max(DESCRIPTION_MAX_LENGTH);

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

export const listProductsQuerySchema: Joi.ObjectSchema<ListProductsQuery> = Joi.object<ListProductsQuery>({
  skip: Joi.number().integer().min(0).default(0),
  limit: Joi.number().integer().min(1).max(MAX_PAGE_SIZE).default(MAX_PAGE_SIZE),
}).unknown(true);

export const productIdParamsSchema: Joi.ObjectSchema<{ id: number }> = Joi.object<{ id: number }>({
  id: Joi.number().integer().min(1).max(MAX_INT4).required(),
}).required();
