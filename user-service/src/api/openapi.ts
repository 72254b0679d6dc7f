import { COMMON_OPENAPI_SCHEMAS, MAX_TOKEN_LENGTH, PROBLEM_CONTENT_TYPE } from '@shop/shared-contracts';

import { SERVICE_VERSION } from '../service-info';

const problem = (description: string, extraHeaders: Record<string, object> = {}) => ({
  description,
  headers: { 'X-Request-Id': { $ref: '#/components/headers/RequestId' }, ...extraHeaders },
  content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
});

const retryAfter = { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait before retrying.' } };

const responses = {
  MalformedRequest: problem('The body is not valid JSON or not a valid form.'),
  Unauthorized: problem('Missing or invalid credentials.', {
    'WWW-Authenticate': { schema: { type: 'string', example: 'Bearer' } },
  }),
  Conflict: problem('The username is already taken (in any letter case).'),
  PayloadTooLarge: problem('The body is larger than the limit (100 kB by default).'),
  UnsupportedMediaType: problem('The body is in a media type this route does not accept.'),
  ValidationFailed: problem('The body failed validation; `errors` lists every failing field.'),
  RateLimited: problem(
    'Too many attempts from this address, or (login) too many failed logins for this username.',
    retryAfter,
  ),
  ServiceUnavailable: problem('A dependency (database) is unavailable; retry later.', retryAfter),
};

const ref = (name: keyof typeof responses) => ({ $ref: `#/components/responses/${name}` });

const jsonBody = (schema: string) => ({
  required: true,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
});

const ok = (description: string, schema: string) => ({
  description,
  headers: { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } },
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
});

/** The OpenAPI 3.1 description of every route user-service mounts. */
export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'user-service',
    version: SERVICE_VERSION,
    description:
      'Registration, login and token validation. Tokens are also validated over RabbitMQ ' +
      '(queue `auth.validate_token`) for product-service; see the README for the RPC contract.',
  },
  servers: [{ url: 'http://localhost:8001' }],
  tags: [{ name: 'auth' }, { name: 'operations' }],
  paths: {
    '/register': {
      post: {
        tags: ['auth'],
        summary: 'Create an account',
        operationId: 'register',
        requestBody: jsonBody('Credentials'),
        responses: {
          '201': ok('The new user.', 'User'),
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
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': { schema: { $ref: '#/components/schemas/LoginForm' } },
            'application/json': { schema: { $ref: '#/components/schemas/Credentials' } },
          },
        },
        responses: {
          '200': ok('An access token.', 'AccessToken'),
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
        requestBody: jsonBody('TokenToValidate'),
        responses: {
          '200': ok('Whether the token is valid (always 200 for a well-formed request).', 'TokenValidation'),
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
        security: [{ bearerAuth: [] }],
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
        security: [{ bearerAuth: [] }],
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
        security: [{ bearerAuth: [] }],
        requestBody: jsonBody('Deactivation'),
        responses: {
          '200': ok('The deactivated user.', 'User'),
          '400': ref('MalformedRequest'),
          '401': ref('Unauthorized'),
          '413': ref('PayloadTooLarge'),
          '415': ref('UnsupportedMediaType'),
          '422': ref('ValidationFailed'),
          '503': ref('ServiceUnavailable'),
        },
      },
    },
    '/health': {
      get: {
        tags: ['operations'],
        summary: 'Readiness: 200 when the database and the broker are reachable',
        operationId: 'health',
        responses: {
          '200': ok('Ready.', 'Health'),
          '503': {
            description: 'A dependency is down, or the service is shutting down.',
            headers: retryAfter,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
          },
        },
      },
    },
    '/health/live': {
      get: {
        tags: ['operations'],
        summary: 'Liveness: 200 while the process runs',
        operationId: 'liveness',
        responses: { '200': ok('Alive.', 'Liveness') },
      },
    },
    '/metrics': {
      get: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        operationId: 'metrics',
        responses: { '200': { description: 'The metrics.', content: { 'text/plain': {} } } },
      },
    },
    '/openapi.json': {
      get: {
        tags: ['operations'],
        summary: 'This document',
        operationId: 'openapi',
        responses: { '200': { description: 'The OpenAPI document.', content: { 'application/json': {} } } },
      },
    },
    '/docs': {
      get: {
        tags: ['operations'],
        summary: 'Swagger UI over this document',
        operationId: 'docs',
        responses: { '200': { description: 'An HTML page.', content: { 'text/html': {} } } },
      },
    },
  },
  components: {
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'An access token from `POST /login`, sent as `Authorization: Bearer <token>` to product-service.',
      },
    },
    headers: {
      RequestId: {
        description: 'The request id: the client’s `X-Request-Id` when it is a short safe string, else generated.',
        schema: { type: 'string' },
      },
    },
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
          access_token: { type: 'string' },
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
