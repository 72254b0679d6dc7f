/**
 * Names that both ends of the token-validation RPC must agree on.
 * The queue name can be overridden per deployment (`AUTH_RPC_QUEUE`), so tests and
 * side-by-side stacks never share a queue; this is the production default.
 */
export const AUTH_VALIDATE_TOKEN_QUEUE = 'auth.validate_token';

/** RabbitMQ's Direct Reply-to pseudo-queue: replies go straight to the requester's channel. */
export const DIRECT_REPLY_TO_QUEUE = 'amq.rabbitmq.reply-to';

/** AMQP `type` property of each message, so the management UI shows readable traffic. */
export const MESSAGE_TYPES = {
  validateTokenRequest: 'auth.validate_token',
  validateTokenReply: 'auth.validate_token.reply',
} as const;

export type MessageType = (typeof MESSAGE_TYPES)[keyof typeof MESSAGE_TYPES];

/** AMQP `appId` of each sender; also the RabbitMQ connection name of each service. */
export const SERVICE_NAMES = {
  user: 'user-service',
  product: 'product-service',
} as const;

export type ServiceName = (typeof SERVICE_NAMES)[keyof typeof SERVICE_NAMES];

/** AMQP header carrying the HTTP request id across the broker, for tracing. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** W3C Trace Context header, carried from HTTP into AMQP headers and back unchanged. */
export const TRACEPARENT_HEADER = 'traceparent';

const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Whether a value is a W3C `traceparent` of version 00 (lowercase hex, non-zero ids), the only
 * form we forward: anything else is dropped rather than passed on to logs and the broker.
 */
export function isValidTraceparent(value: unknown): value is string {
  return typeof value === 'string' && TRACEPARENT.test(value);
}

/** The trace id of a valid `traceparent` (its 32 hex digits), as logs carry it. */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35);
}

/** Every message body on the wire is JSON. */
export const JSON_CONTENT_TYPE = 'application/json';
