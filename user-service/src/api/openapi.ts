import { COMMON_OPENAPI_SCHEMAS, MAX_TOKEN_LENGTH } from '@shop/shared-contracts';
import {
  BEARER_TOKEN_REQUIRED,
  PUBLIC,
  REQUEST_ID_HEADER_COMPONENT,
  RETRY_AFTER_RESPONSE_HEADER,
  documentHead,
  jsonRequestBody,
  jsonResponse,
  oauth2PasswordScheme,
  operationsPaths,
  problemResponse,
} from '@shop/shared-runtime/http';

import { SERVICE_VERSION } from '../service-info';

const responses = {
  MalformedRequest: problemResponse('The body is not valid JSON or not a valid form.'),
  Unauthorized: problemResponse('Missing or invalid credentials.', {
    'WWW-Authenticate': { schema: { type: 'string', example: 'Bearer' } },
  }),
  Conflict: problemResponse('The username is already taken (in any letter case).'),
  PayloadTooLarge: problemResponse('The body is larger than the limit (100 kB by default).'),
  UnsupportedMediaType: problemResponse('The body is in a media type this route does not accept.'),
  ValidationFailed: problemResponse('The body failed validation; `errors` lists every failing field.'),
  RateLimited: problemResponse(
    'Too many attempts from this address, or (login) too many failed logins for this username.',
    RETRY_AFTER_RESPONSE_HEADER,
  ),
  ServiceUnavailable: problemResponse(
    'A dependency (database) is unavailable; retry later.',
    RETRY_AFTER_RESPONSE_HEADER,
  ),
};

const ref = (name: keyof typeof responses) => ({ $ref: `#/components/responses/${name}` });

/** The OpenAPI 3.1 description of every route user-service mounts. */
export const openApiDocument = {
  ...documentHead(
    {
      title: 'user-service',
      version: SERVICE_VERSION,
      description:
        'Registration, login and token validation. Tokens are also validated over RabbitMQ ' +
        '(queue `auth.validate_token`) for product-service; see the README for the RPC contract.',
    },
    { name: 'auth', description: 'Accounts and access tokens.' },
  ),
  paths: {
    '/register': {
      post: {
        tags: ['auth'],
        summary: 'Create an account',
        operationId: 'register',
        security: PUBLIC,
        requestBody: jsonRequestBody('Credentials'),
        responses: {
          '201': jsonResponse('The new user.', 'User'),
          '400': ref('MalformedRequest'),
          '409': ref('Conflict'),
          '413': ref('PayloadTooLarge'),
          '415': ref('UnsupportedMediaType'),
          '422': ref('ValidationFailed'),
          '429': ref('RateLimited'),
          '503': ref('ServiceUnavailable'),
        },
      },
    },
    '/login': {
      post: {
        tags: ['auth'],
        summary: 'Exchange a username and password for an access token (OAuth2 password form or JSON)',
        operationId: 'login',
        security: PUBLIC,
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': { schema: { $ref: '#/components/schemas/LoginForm' } },
            'application/json': { schema: { $ref: '#/components/schemas/Credentials' } },
          },
        },
        responses: {
          '200': jsonResponse('An access token.', 'AccessToken'),
          '400': ref('MalformedRequest'),
          '401': ref('Unauthorized'),
          '413': ref('PayloadTooLarge'),
          '415': ref('UnsupportedMediaType'),
          '422': ref('ValidationFailed'),
          '429': ref('RateLimited'),
          '503': ref('ServiceUnavailable'),
        },
      },
    },
    '/validate-token': {
      post: {
        tags: ['auth'],
        summary: 'Check a token: signature, expiry, and that its user exists and is active',
        operationId: 'validateToken',
        security: PUBLIC,
        requestBody: jsonRequestBody('TokenToValidate'),
        responses: {
          '200': jsonResponse('Whether the token is valid (always 200 for a well-formed request).', 'TokenValidation'),
          '400': ref('MalformedRequest'),
          '413': ref('PayloadTooLarge'),
          '415': ref('UnsupportedMediaType'),
          '422': ref('ValidationFailed'),
          '503': ref('ServiceUnavailable'),
        },
      },
    },
    '/logout': {
      post: {
        tags: ['auth'],
        summary: 'Revoke the presented token (it stays refused until it would have expired)',
        operationId: 'logout',
        security: BEARER_TOKEN_REQUIRED,
        responses: {
          '204': {
            description: 'Logged out.',
            headers: { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } },
          },
          '401': ref('Unauthorized'),
          '503': ref('ServiceUnavailable'),
        },
      },
    },
    '/revoke': {
      post: {
        tags: ['auth'],
        summary: 'RFC 7009 revocation of one of the caller’s tokens; 200 even for unknown or foreign tokens',
        operationId: 'revoke',
        security: BEARER_TOKEN_REQUIRED,
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': { schema: { $ref: '#/components/schemas/Revocation' } },
            'application/json': { schema: { $ref: '#/components/schemas/Revocation' } },
          },
        },
        responses: {
          '200': {
            description: 'Done (or nothing to do).',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
          '400': ref('MalformedRequest'),
          '401': ref('Unauthorized'),
          '413': ref('PayloadTooLarge'),
          '415': ref('UnsupportedMediaType'),
          '422': ref('ValidationFailed'),
          '503': ref('ServiceUnavailable'),
        },
      },
    },
    '/users/me': {
      patch: {
        tags: ['auth'],
        summary: 'Deactivate the caller’s account: every token of theirs is refused from then on',
        operationId: 'deactivateMe',
        security: BEARER_TOKEN_REQUIRED,
        requestBody: jsonRequestBody('Deactivation'),
        responses: {
          '200': jsonResponse('The deactivated user.', 'User'),
          '400': ref('MalformedRequest'),
          '401': ref('Unauthorized'),
          '413': ref('PayloadTooLarge'),
          '415': ref('UnsupportedMediaType'),
          '422': ref('ValidationFailed'),
          '503': ref('ServiceUnavailable'),
        },
      },
    },
    ...operationsPaths('200 while the database answers (degraded when the broker is down); every dependency listed'),
  },
  components: {
    securitySchemes: {
      // Swagger UI's Authorize logs in here with a username and password, as FastAPI's did.
      ...oauth2PasswordScheme('/login'),
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'An access token from `POST /login`, sent as `Authorization: Bearer <token>` to product-service. A JWT ' +
          '(HS256 by default) whose `kid` header names the signing key: the first 16 hex digits of its SHA-256. ' +
          'Keys rotate (`SECRET_KEY` signs, `PREVIOUS_SECRET_KEYS` still verify); a `kid` naming no key held is `bad_signature`.',
      },
    },
    headers: REQUEST_ID_HEADER_COMPONENT,
    responses,
    schemas: {
      Credentials: {
        type: 'object',
        required: ['username', 'password'],
        additionalProperties: false,
        properties: {
          username: { type: 'string', minLength: 3, maxLength: 50, pattern: '^[A-Za-z0-9_.-]+$', example: 'alice' },
          password: {
            type: 'string',
            minLength: 6,
            description: '6–72 bytes in UTF-8 (bcrypt’s limit); longer passwords are refused, never truncated.',
            example: 'correct-horse',
          },
        },
      },
      Revocation: {
        type: 'object',
        required: ['token'],
        properties: {
          token: { type: 'string', minLength: 1 },
          token_type_hint: { type: 'string', enum: ['access_token', 'refresh_token'] },
        },
      },
      Deactivation: {
        type: 'object',
        required: ['is_active'],
        additionalProperties: false,
        properties: { is_active: { const: false } },
      },
      LoginForm: {
        type: 'object',
        required: ['username', 'password'],
        properties: {
          username: { type: 'string', minLength: 3, maxLength: 50, pattern: '^[A-Za-z0-9_.-]+$' },
          password: { type: 'string', minLength: 6, description: '6–72 bytes in UTF-8.' },
          grant_type: { type: 'string', enum: ['password'] },
          scope: { type: 'string' },
          client_id: { type: 'string' },
          client_secret: { type: 'string' },
        },
      },
      User: {
        type: 'object',
        required: ['id', 'username', 'is_active', 'created_at', 'updated_at'],
        properties: {
          id: { type: 'integer', example: 1 },
          username: { type: 'string', example: 'alice' },
          is_active: { type: 'boolean' },
          created_at: { type: 'string', format: 'date-time' },
          updated_at: { type: 'string', format: 'date-time' },
        },
      },
      AccessToken: {
        type: 'object',
        required: ['access_token', 'token_type', 'expires_in'],
        properties: {
          access_token: {
            type: 'string',
            description:
              'A JWT: header `alg` and `kid` (the signing key, so keys can rotate); claims `sub`, `username`, `jti`, `iat`, `exp`, `iss`, `aud`.',
          },
          token_type: { type: 'string', enum: ['bearer'] },
          expires_in: { type: 'integer', description: 'Lifetime in seconds.', example: 1800 },
        },
      },
      TokenToValidate: {
        type: 'object',
        required: ['token'],
        properties: { token: { type: 'string', minLength: 1, maxLength: MAX_TOKEN_LENGTH } },
      },
      TokenValidation: {
        oneOf: [
          {
            type: 'object',
            required: ['valid', 'username', 'user_id', 'message'],
            properties: {
              valid: { const: true },
              username: { type: 'string' },
              user_id: { type: 'integer' },
              message: { type: 'string' },
            },
          },
          {
            type: 'object',
            required: ['valid', 'username', 'reason', 'message'],
            properties: {
              valid: { const: false },
              username: { type: 'null' },
              reason: {
                type: 'string',
                enum: ['malformed', 'bad_signature', 'expired', 'revoked', 'user_inactive', 'user_not_found'],
              },
              message: { type: 'string' },
            },
          },
        ],
      },
      ...COMMON_OPENAPI_SCHEMAS,
    },
  },
} as const;
