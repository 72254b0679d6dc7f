import { ERROR_CODES, problemType, type ErrorCode } from './problem-details';

/**
 * OpenAPI 3.1 schemas of the HTTP shapes both services answer with: problem details and the
 * health bodies. Each service's OpenAPI document spreads these into `components.schemas`, so
 * the two descriptions of one shape cannot drift apart.
 */
export const COMMON_OPENAPI_SCHEMAS = {
  Health: {
    type: 'object',
    required: ['status', 'service', 'version', 'checks'],
    properties: {
      status: {
        type: 'string',
        enum: ['ok', 'degraded', 'unavailable', 'shutting_down'],
        description:
          '`ok` and `degraded` (a dependency the instance can serve without, such as the broker, is down) answer 200; `unavailable` (the database is down) and `shutting_down` (draining) answer 503.',
      },
      service: { type: 'string' },
      version: { type: 'string' },
      checks: {
        type: 'object',
        properties: {
          database: { $ref: '#/components/schemas/DependencyStatus' },
          broker: { $ref: '#/components/schemas/DependencyStatus' },
        },
      },
    },
  },
  DependencyStatus: {
    type: 'object',
    required: ['status'],
    properties: {
      status: {
        type: 'string',
        enum: ['up', 'down', 'blocked'],
        description:
          '`blocked`: reachable but refusing messages (a RabbitMQ memory or disk alarm); `reason` says which',
      },
    },
    additionalProperties: true,
  },
  Liveness: {
    type: 'object',
    properties: { status: { const: 'ok' }, service: { type: 'string' }, version: { type: 'string' } },
  },
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details.',
    required: ['type', 'title', 'status', 'detail', 'instance', 'request_id'],
    properties: {
      type: { type: 'string', enum: (Object.keys(ERROR_CODES) as ErrorCode[]).map(problemType) },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      instance: { type: 'string' },
      request_id: { type: 'string' },
      errors: {
        type: 'array',
        items: {
          type: 'object',
          required: ['path', 'message', 'type'],
          properties: {
            path: { type: 'string', example: 'body.name' },
            message: { type: 'string' },
            type: { type: 'string', example: 'string.empty' },
          },
        },
      },
      etag: {
        type: 'string',
        description: 'On a 412: the current entity tag of the resource.',
        example: '"3"',
      },
    },
  },
} as const;
