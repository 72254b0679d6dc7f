import Joi from 'joi';

/** Media type of every error response (RFC 9457). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Stable, machine-readable error codes of both services' HTTP APIs, with the status
 * each one is answered with. Clients branch on `type`, which is built from the code.
 */
export const ERROR_CODES = {
  malformed_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  rate_limited: 429,
  internal: 500,
  service_unavailable: 503,
} as const;

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
}).unknown(false);
