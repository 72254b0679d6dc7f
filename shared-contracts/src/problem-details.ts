import Joi from 'joi';

/** Media type of every error response (RFC 9457). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Stable, machine-readable error codes of both services' HTTP APIs, with the status and
 * title each one is answered with. Clients branch on `type`, which is built from the code.
 */
export const ERROR_CODES = {
  malformed_request: { status: 400, title: 'Malformed request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  /** The same `Idempotency-Key` is still being processed by an earlier request: retry after `Retry-After`. */
  idempotency_key_in_use: { status: 409, title: 'Idempotency key in use' },
  /** `If-Match` names no current version of the resource; the problem's `etag` is the current one. */
  precondition_failed: { status: 412, title: 'Precondition failed' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  validation_failed: { status: 422, title: 'Validation failed' },
  /** An `Idempotency-Key` already used by this user with another request body. */
  idempotency_key_reused: { status: 422, title: 'Idempotency key reused' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal server error' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The problem `type` URI of an error code. A URN, not a URL: RFC 9457 allows a type
 * that is not dereferenceable, and we would rather not promise a documentation host.
 */
export function problemType(code: ErrorCode): string {
  return `urn:problem-type:${code.replaceAll('_', '-')}`;
}

/** One failing field of a validation error. */
export interface FieldError {
  /** Where the value came from and its key path, e.g. `body.price`, `query.limit`, `params.id`. */
  path: string;
  message: string;
  /** The validator's rule that failed, e.g. `number.greater`, `any.required`. */
  type: string;
}

/** Body of every error response of both services. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  /** A human sentence; never a stack trace or a SQL fragment. */
  detail: string;
  /** The request path the problem occurred on. */
  instance: string;
  request_id: string;
  /** Present on validation errors: every failing field, not only the first. */
  errors?: FieldError[];
  /** Present on a 412: the resource's current entity tag (e.g. `"3"`), to read it again or retry with. */
  etag?: string;
}

export const fieldErrorSchema: Joi.ObjectSchema<FieldError> = Joi.object<FieldError>({
  path: Joi.string().required(),
  message: Joi.string().required(),
  type: Joi.string().required(),
}).unknown(false);

export const problemDetailsSchema: Joi.ObjectSchema<ProblemDetails> = Joi.object<ProblemDetails>({
  type: Joi.string().required(),
  title: Joi.string().required(),
  status: Joi.number().integer().min(400).max(599).required(),
  detail: Joi.string().required(),
  instance: Joi.string().required(),
  request_id: Joi.string().required(),
  errors: Joi.array().items(fieldErrorSchema).min(1),
  etag: Joi.string(),
}).unknown(false);

/** Longest `X-Request-Id` taken from a client; longer or stranger values are replaced. */
export const MAX_REQUEST_ID_LENGTH = 128;

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]+$/;

/**
 * Whether a client-supplied request id is safe to echo, log and forward over AMQP:
 * short, printable, no spaces or quotes (so it cannot forge log lines or headers).
 */
export function isSafeRequestId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_REQUEST_ID_LENGTH && SAFE_REQUEST_ID.test(value);
}
