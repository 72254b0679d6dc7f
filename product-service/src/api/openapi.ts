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
import { IDEMPOTENCY_KEY_MAX_LENGTH } from './idempotency';
import { DESCRIPTION_MAX_LENGTH, MAX_INT4, MAX_PAGE_SIZE, MAX_PRICE, NAME_MAX_LENGTH } from './products.schemas';

/** The strong entity tag of a product: its version, quoted. */
const ETAG_HEADER = {
  ETag: {
    description: 'The product’s version as a strong entity tag (`"3"`); send it back in `If-Match` or `If-None-Match`.',
    schema: { type: 'string', example: '"1"' },
  },
};

const responses = {
  MalformedRequest: problemResponse(
    'The body is not valid JSON (or does not inflate), the path is not valid percent-encoding, or a header is ' +
      'malformed: `Idempotency-Key` not 1–255 printable ASCII characters (or sent twice), `If-Match` / ' +
      '`If-None-Match` neither `*` nor a list of entity tags.',
  ),
  KeyInUse: problemResponse(
    'A request with the same `Idempotency-Key` (`idempotency-key-in-use`) is still in flight, on this instance or ' +
      'another: retry after `Retry-After`; once it has finished the retry gets its answer.',
    RETRY_AFTER_RESPONSE_HEADER,
  ),
  PreconditionFailed: problemResponse(
    '`If-Match` names no current version of the product (`precondition-failed`; weak tags never match): nothing ' +
      'changed. The problem’s `etag` is the current one: read the product again, then retry with it.',
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
  CreateRefused: problemResponse(
    'The body failed validation (`validation-failed`; `errors` lists every failing field), or the ' +
      '`Idempotency-Key` was already used by this user with another body (`idempotency-key-reused`).',
  ),
  ServiceUnavailable: problemResponse(
    'A dependency is unavailable: the database, the broker, or user-service did not answer the token check in time. ' +
      'Never a 401: the token may be good.',
    RETRY_AFTER_RESPONSE_HEADER,
  ),
};

const ref = (name: keyof typeof responses) => ({ $ref: `#/components/responses/${name}` });

const productRef = { $ref: '#/components/schemas/Product' };

const idParameter = { $ref: '#/components/parameters/ProductId' };

const ifMatchParameter = { $ref: '#/components/parameters/IfMatch' };

const updateOperation = (method: 'PUT' | 'PATCH') => ({
  tags: ['products'],
  summary:
    method === 'PUT'
      ? 'Update a product (partial: only the fields sent change, as with PATCH)'
      : 'Update some fields of a product',
  operationId: method === 'PUT' ? 'replaceProduct' : 'updateProduct',
  security: BEARER_TOKEN_REQUIRED,
  parameters: [idParameter, ifMatchParameter],
  requestBody: jsonRequestBody('ProductUpdate'),
  responses: {
    '200': jsonResponse('The updated product; `ETag` is its new version.', productRef, ETAG_HEADER),
    '400': ref('MalformedRequest'),
    '401': ref('Unauthorized'),
    '403': ref('Forbidden'),
    '404': ref('NotFound'),
    '412': ref('PreconditionFailed'),
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
        parameters: [{ $ref: '#/components/parameters/IdempotencyKey' }],
        requestBody: jsonRequestBody('ProductCreate'),
        responses: {
          '201': jsonResponse(
            'The new product — or, for a repeat of an `Idempotency-Key` with the same body within 24 h, the ' +
              'answer the first request got (same body, `Location` and `ETag`), with `Idempotent-Replayed: true`.',
            productRef,
            {
              Location: { description: 'The new product’s URL.', schema: { type: 'string' } },
              ...ETAG_HEADER,
              'Idempotent-Replayed': {
                description: '`true` on a replayed answer: nothing was written this time.',
                schema: { type: 'string', enum: ['true'] },
              },
            },
          ),
          '400': ref('MalformedRequest'),
          '401': ref('Unauthorized'),
          '409': ref('KeyInUse'),
          '413': ref('PayloadTooLarge'),
          '415': ref('UnsupportedMediaType'),
          '422': ref('CreateRefused'),
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
        parameters: [
          idParameter,
          {
            name: 'If-None-Match',
            in: 'header',
            description:
              'Entity tags the client holds (`"3"`, `W/"3"`, a list, or `*`): when one names the current version ' +
              '(weak comparison), the answer is a 304 without a body.',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': jsonResponse('The product.', productRef, ETAG_HEADER),
          '304': {
            description: 'Not modified: `If-None-Match` names the current version. No body.',
            headers: { ...REQUEST_ID_RESPONSE_HEADER, ...ETAG_HEADER },
          },
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
        parameters: [idParameter, ifMatchParameter],
        responses: {
          '204': { description: 'Deleted.', headers: REQUEST_ID_RESPONSE_HEADER },
          '400': ref('MalformedRequest'),
          '401': ref('Unauthorized'),
          '403': ref('Forbidden'),
          '404': ref('NotFound'),
          '412': ref('PreconditionFailed'),
          '422': ref('ValidationFailed'),
          '503': ref('ServiceUnavailable'),
        },
      },
    },
    ...operationsPaths('200 while the database answers (degraded when the broker is down); every dependency listed'),
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
      IdempotencyKey: {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description:
          'Makes the create safe to retry: a repeat with the same key and body from the same user within 24 h gets ' +
          'the first answer again and writes nothing. A uuid per logical create is a good key.',
        schema: { type: 'string', minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX_LENGTH, pattern: '^[\\x20-\\x7E]+$' },
      },
      IfMatch: {
        name: 'If-Match',
        in: 'header',
        required: false,
        description:
          'Apply the change only while the product is at one of these versions (strong comparison, checked in ' +
          'the same statement as the change): `"3"`, a list `"3", "4"`, or `*` (any). A weak tag (`W/"3"`) never ' +
          'matches. Without it, the last write wins.',
        schema: { type: 'string', example: '"1"' },
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
