import { COMMON_OPENAPI_SCHEMAS, MAX_TOKEN_LENGTH } from '@shop/shared-contracts';
import {
  BEARER_TOKEN_REQUIRED,
  PUBLIC,
  REQUEST_ID_HEADER_COMPONENT,
  REQUEST_ID_RESPONSE_HEADER,
  RETRY_AFTER_RESPONSE_HEADER,
  documentHead,
  jsonRequestBody,
  jsonResponse,
  oauth2PasswordScheme,
  operationsPaths,
  problemResponse,
} from '@shop/shared-runtime/http';

import { SERVICE_VERSION } from '../service-info';
import { DESCRIPTION_MAX_LENGTH, MAX_INT4, MAX_PAGE_SIZE, MAX_PRICE, NAME_MAX_LENGTH } from './products.schemas';

const responses = {
  MalformedRequest: problemResponse(
    'The body is not valid JSON (or does not inflate), or the path is not valid percent-encoding.',
  ),
  Unauthorized: problemResponse(
    'No bearer token, a malformed `Authorization` header, or a token user-service refused (expired, bad signature, user gone).',
    { 'WWW-Authenticate': { schema: { type: 'string', example: 'Bearer' } } },
  ),
  Forbidden: problemResponse('The caller is authenticated but is not the owner of the product.'),
  NotFound: problemResponse('No product has this id.'),
  PayloadTooLarge: problemResponse('The body is larger than the limit (100 kB by default).'),
  UnsupportedMediaType: problemResponse('The body is not `application/json`.'),
  ValidationFailed: problemResponse('The path, query or body failed validation; `errors` lists every failing field.'),
  ServiceUnavailable: problemResponse(
    'A dependency is unavailable: the database, the broker, or user-service did not answer the token check in time. ' +
      'Never a 401: the token may be good.',
    RETRY_AFTER_RESPONSE_HEADER,
  ),
};

const ref = (name: keyof typeof responses) => ({ $ref: `#/components/responses/${name}` });

const productRef = { $ref: '#/components/schemas/Product' };

const idParameter = { $ref: '#/components/parameters/ProductId' };

const updateOperation = (method: 'PUT' | 'PATCH') => ({
  tags: ['products'],
  summary:
    method === 'PUT'
      ? 'Update a product (partial: only the fields sent change, as with PATCH)'
      : 'Update some fields of a product',
  operationId: method === 'PUT' ? 'replaceProduct' : 'updateProduct',
  security: BEARER_TOKEN_REQUIRED,
  parameters: [idParameter],
  requestBody: jsonRequestBody('ProductUpdate'),
  responses: {
    '200': jsonResponse('The updated product.', productRef),
    '400': ref('MalformedRequest'),
    '401': ref('Unauthorized'),
    '403': ref('Forbidden'),
    '404': ref('NotFound'),
    '413': ref('PayloadTooLarge'),
    '415': ref('UnsupportedMediaType'),
    '422': ref('ValidationFailed'),
    '503': ref('ServiceUnavailable'),
  },
});

const price = {
  type: 'number',
  exclusiveMinimum: 0,
  maximum: MAX_PRICE,
  description: 'A JSON number (not a string) with at most 2 decimals; stored exactly as NUMERIC(12,2).',
  example: 19.99,
};

const productFields = {
  name: {
    type: 'string',
    minLength: 1,
    maxLength: NAME_MAX_LENGTH,
    description: 'Trimmed; must not be blank.',
    example: 'Espresso cup',
  },
  description: { type: ['string', 'null'], maxLength: DESCRIPTION_MAX_LENGTH, example: 'Porcelain, 80 ml.' },
  price,
  quantity: { type: 'integer', minimum: 0, maximum: MAX_INT4, example: 12 },
};

/** Every route product-service mounts; {@link createOpenApiDocument} adds the login flow. */
const baseDocument = {
  ...documentHead(
    {
      title: 'product-service',
      version: SERVICE_VERSION,
      description:
        'Product catalogue. Reads are public; writes need a bearer token from user-service, which ' +
        'product-service checks by RPC over RabbitMQ (queue `auth.validate_token`), never by itself.',
    },
    { name: 'products', description: 'The catalogue: public reads, writes by the products’ owners.' },
  ),
  paths: {
    '/products': {
      get: {
        tags: ['products'],
        summary: 'List products, ordered by id',
        operationId: 'listProducts',
        security: PUBLIC,
        parameters: [
          {
            name: 'skip',
            in: 'query',
            description: 'Products to skip.',
            schema: { type: 'integer', minimum: 0, default: 0 },
          },
          {
            name: 'limit',
            in: 'query',
            description: 'Largest number of products returned.',
            schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: MAX_PAGE_SIZE },
          },
        ],
        responses: {
          '200': jsonResponse(
            'One page of products.',
            { type: 'array', items: productRef },
            {
              'X-Total-Count': {
                description: 'The total number of products, across all pages.',
                schema: { type: 'integer' },
              },
            },
          ),
          '422': ref('ValidationFailed'),
          '503': ref('ServiceUnavailable'),
        },
      },
      post: {
        tags: ['products'],
        summary: 'Create a product owned by the caller',
        operationId: 'createProduct',
        security: BEARER_TOKEN_REQUIRED,
        requestBody: jsonRequestBody('ProductCreate'),
        responses: {
          '201': jsonResponse('The new product.', productRef, {
            Location: { description: 'The new product’s URL.', schema: { type: 'string' } },
          }),
          '400': ref('MalformedRequest'),
          '401': ref('Unauthorized'),
          '413': ref('PayloadTooLarge'),
          '415': ref('UnsupportedMediaType'),
          '422': ref('ValidationFailed'),
          '503': ref('ServiceUnavailable'),
        },
      },
    },
    '/products/{id}': {
      get: {
        tags: ['products'],
        summary: 'Get one product',
        operationId: 'getProduct',
        security: PUBLIC,
        parameters: [idParameter],
        responses: {
          '200': jsonResponse('The product.', productRef),
          '400': ref('MalformedRequest'),
          '404': ref('NotFound'),
          '422': ref('ValidationFailed'),
          '503': ref('ServiceUnavailable'),
        },
      },
      put: updateOperation('PUT'),
      patch: updateOperation('PATCH'),
      delete: {
        tags: ['products'],
        summary: 'Delete a product',
        operationId: 'deleteProduct',
        security: BEARER_TOKEN_REQUIRED,
        parameters: [idParameter],
        responses: {
          '204': { description: 'Deleted.', headers: REQUEST_ID_RESPONSE_HEADER },
          '400': ref('MalformedRequest'),
          '401': ref('Unauthorized'),
          '403': ref('Forbidden'),
          '404': ref('NotFound'),
          '422': ref('ValidationFailed'),
          '503': ref('ServiceUnavailable'),
        },
      },
    },
    ...operationsPaths('Readiness: 200 when the database is reachable and the broker connected'),
  },
  components: {
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          `An access token from user-service's \`POST /login\` (at most ${MAX_TOKEN_LENGTH} characters), ` +
          'sent as `Authorization: Bearer <token>`.',
      },
    },
    headers: REQUEST_ID_HEADER_COMPONENT,
    parameters: {
      ProductId: {
        name: 'id',
        in: 'path',
        required: true,
        description: 'The product id, a positive integer.',
        schema: { type: 'integer', minimum: 1, maximum: MAX_INT4 },
      },
    },
    responses,
    schemas: {
      ProductCreate: {
        type: 'object',
        required: ['name', 'price', 'quantity'],
        additionalProperties: false,
        properties: { ...productFields, description: { ...productFields.description, default: null } },
      },
      ProductUpdate: {
        type: 'object',
        description: 'The fields to change (at least one); absent fields keep their value.',
        minProperties: 1,
        additionalProperties: false,
        properties: productFields,
      },
      Product: {
        type: 'object',
        required: ['id', 'name', 'description', 'price', 'quantity', 'owner_id', 'created_at', 'updated_at'],
        properties: {
          id: { type: 'integer', example: 1 },
          ...productFields,
          owner_id: { type: 'integer', description: 'The id of the user who created the product.', example: 7 },
          created_at: { type: 'string', format: 'date-time' },
          updated_at: { type: 'string', format: 'date-time' },
        },
      },
      ...COMMON_OPENAPI_SCHEMAS,
    },
  },
} as const;

export interface OpenApiOptions {
  /**
   * user-service's URL as a browser reaches it (`USER_SERVICE_PUBLIC_URL`, no trailing slash):
   * Swagger UI's Authorize posts the login form to its `/login`.
   */
  userServicePublicUrl: string;
}

/** The OpenAPI 3.1 description of every route product-service mounts. */
export function createOpenApiDocument(options: OpenApiOptions) {
  const { components } = baseDocument;
  return {
    ...baseDocument,
    components: {
      ...components,
      securitySchemes: {
        // Logging in happens at user-service; its CORS_ORIGINS must allow these docs' origin.
        ...oauth2PasswordScheme(`${options.userServicePublicUrl}/login`),
        ...components.securitySchemes,
      },
    },
  };
}
