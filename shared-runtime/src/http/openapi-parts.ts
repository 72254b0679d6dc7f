import { PROBLEM_CONTENT_TYPE } from '@shop/shared-contracts';

/**
 * Building blocks of a service's OpenAPI document for what every service answers the same way:
 * the headers every response carries, problem+json errors, and the operations routes that
 * createHttpApp mounts (health, metrics, the document and its Swagger UI).
 */

/** `X-Request-Id`, on every response: reference it in a response's `headers`. */
export const REQUEST_ID_RESPONSE_HEADER = { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } } as const;

/** `Retry-After`, on 429 and 503 responses. */
export const RETRY_AFTER_RESPONSE_HEADER = {
  'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait before retrying.' },
} as const;

/** The `components.headers` entry {@link REQUEST_ID_RESPONSE_HEADER} refers to. */
export const REQUEST_ID_HEADER_COMPONENT = {
  RequestId: {
    description: 'The request id: the client’s `X-Request-Id` when it is a short safe string, else generated.',
    schema: { type: 'string' },
  },
} as const;

/** An error response: problem+json with the request id and any `extraHeaders`. */
export function problemResponse(description: string, extraHeaders: Record<string, object> = {}) {
  return {
    description,
    headers: { ...REQUEST_ID_RESPONSE_HEADER, ...extraHeaders },
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
  };
}

/** A JSON response; `schema` is a schema object, or the name of one in `components.schemas`. */
export function jsonResponse(description: string, schema: string | object, headers: Record<string, object> = {}) {
  return {
    description,
    headers: { ...REQUEST_ID_RESPONSE_HEADER, ...headers },
    content: { 'application/json': { schema: typeof schema === 'string' ? schemaRef(schema) : schema } },
  };
}

/** A required JSON request body of the schema named `schema` in `components.schemas`. */
export function jsonRequestBody(schema: string) {
  return { required: true, content: { 'application/json': { schema: schemaRef(schema) } } };
}

/** A reference to the schema named `name` in `components.schemas`. */
export function schemaRef(name: string) {
  return { $ref: `#/components/schemas/${name}` };
}

/**
 * The head of a service's OpenAPI 3.1 document: `info` (MIT-licensed), a relative server, and
 * its tags, the service's own first and then `operations` (what {@link operationsPaths} tags).
 */
export function documentHead(
  info: { title: string; version: string; description: string },
  serviceTag: { name: string; description: string },
) {
  return {
    openapi: '3.1.0',
    info: { ...info, license: { name: 'MIT', identifier: 'MIT' } },
    // Relative: the operations are tried against the origin the document was loaded from, however
    // the browser reached it (localhost, 127.0.0.1, a proxy's name).
    servers: [{ url: '/' }],
    tags: [serviceTag, { name: 'operations', description: 'Health, metrics and these docs.' }],
  } as const;
}

/**
 * `security` of an operation anyone may call. Declared explicitly on every public operation, so
 * a reader (and `redocly lint`'s `security-defined` rule) can tell "public" from "forgotten".
 */
export const PUBLIC = [] as const;

/** The name of the OAuth2 password-flow scheme in `components.securitySchemes`. */
export const OAUTH2_PASSWORD_SCHEME = 'OAuth2PasswordBearer';

/**
 * `security` of an operation that needs an access token: Swagger UI's Authorize takes it either
 * way, by logging in with a username and password (the OAuth2 password flow against user-service's
 * `/login`) or as a token pasted into `bearerAuth`. Both end up as `Authorization: Bearer <token>`.
 */
export const BEARER_TOKEN_REQUIRED = [{ [OAUTH2_PASSWORD_SCHEME]: [] }, { bearerAuth: [] }];

/**
 * The `components.securitySchemes` entry of the OAuth2 password flow whose token endpoint is
 * `tokenUrl` (user-service's `/login`: relative in its own document, absolute in another
 * service's). The flow has no scopes: a token grants what its user may do.
 */
export function oauth2PasswordScheme(tokenUrl: string) {
  return {
    [OAUTH2_PASSWORD_SCHEME]: {
      type: 'oauth2',
      description:
        'Log in with a username and password: the token endpoint is user-service’s `POST /login` ' +
        '(OAuth2 password form), and the access token it returns is sent as `Authorization: Bearer <token>`.',
      flows: { password: { tokenUrl, scopes: {} } },
    },
  } as const;
}

/**
 * The paths of the operations routes every service mounts: `/health/ready` and `/health` (one
 * readiness answer, described by `readinessSummary`), `/health/live`, `/metrics`, `/openapi.json`,
 * `/docs` and `/redoc`, all public. Tagged `operations`; the `Health` and `Liveness` schemas come from COMMON_OPENAPI_SCHEMAS.
 */
export function operationsPaths(readinessSummary: string) {
  const operation = (operationId: string, summary: string, responses: object) => ({
    get: { tags: ['operations'], summary, operationId, security: PUBLIC, responses },
  });
  const readinessResponses = {
    '200': jsonResponse(
      'Ready: `ok`, or `degraded` when the broker is down (reads, and writes the instance can still serve, work).',
      'Health',
    ),
    '503': jsonResponse(
      'Not ready: the database is down (`unavailable`) or the instance is draining (`shutting_down`).',
      'Health',
      RETRY_AFTER_RESPONSE_HEADER,
    ),
  };
  return {
    '/health/ready': operation('readiness', `Readiness probe: ${readinessSummary}`, readinessResponses),
    '/health': operation('health', `Same answer as /health/ready: ${readinessSummary}`, readinessResponses),
    '/health/live': operation('liveness', 'Liveness probe: 200 while the process runs', {
      '200': jsonResponse('Alive.', 'Liveness'),
    }),
    '/metrics': operation('metrics', 'Prometheus metrics (text exposition format)', {
      '200': { description: 'The metrics.', content: { 'text/plain': {} } },
    }),
    '/openapi.json': operation('openapi', 'This document', {
      '200': { description: 'The OpenAPI document.', content: { 'application/json': {} } },
    }),
    '/docs': operation('docs', 'Swagger UI over this document', {
      '200': { description: 'An HTML page.', content: { 'text/html': {} } },
    }),
    '/redoc': operation('redoc', 'ReDoc over this document', {
      '200': { description: 'An HTML page.', content: { 'text/html': {} } },
    }),
  };
}
