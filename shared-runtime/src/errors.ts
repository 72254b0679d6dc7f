import { ERROR_CODES, type ErrorCode, type FieldError, type ProblemDetails } from '@shop/shared-contracts';

/** Members a problem body may carry beyond the standard ones (the contract lists them). */
export type ProblemExtensions = Pick<ProblemDetails, 'etag'>;

interface AppErrorOptions {
  errors?: FieldError[];
  cause?: unknown;
  /** Extra response headers the problem needs (e.g. `Retry-After`, `WWW-Authenticate`). */
  headers?: Record<string, string>;
  /** Extra members of the problem body (e.g. the current `etag` of a 412). */
  extensions?: ProblemExtensions;
}

/**
 * The errors services, repositories and adapters throw. Each carries a stable `code` from the
 * contract; the one error middleware turns it into problem+json with the code's status.
 */
export class AppError extends Error {
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly extensions: ProblemExtensions;

  constructor(
    readonly code: ErrorCode,
    /** A human sentence safe to show to the client. */
    readonly detail: string,
    options: AppErrorOptions = {},
  ) {
    super(detail, { cause: options.cause });
    this.name = new.target.name;
    this.status = ERROR_CODES[code].status;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

export class ValidationError extends AppError {
  constructor(errors: FieldError[]) {
    const count = errors.length === 1 ? '1 invalid field' : `${errors.length} invalid fields`;
    super('validation_failed', `The request has ${count}.`, { errors });
  }
}

/**
 * Missing or refused credentials. `challenge` is the `WWW-Authenticate` value: plain `Bearer`
 * when no usable credentials came, `Bearer error="invalid_token"` when a token was refused
 * (RFC 6750 §3).
 */
export class UnauthorizedError extends AppError {
  constructor(detail: string, challenge = 'Bearer') {
    super('unauthorized', detail, { headers: { 'WWW-Authenticate': challenge } });
  }
}

export class ForbiddenError extends AppError {
  constructor(detail: string) {
    super('forbidden', detail);
  }
}

export class NotFoundError extends AppError {
  constructor(detail: string) {
    super('not_found', detail);
  }
}

export class ConflictError extends AppError {
  constructor(detail: string, cause?: unknown) {
    super('conflict', detail, { cause });
  }
}

/**
 * A conditional request (`If-Match`) named no current version of the resource (RFC 9110 §13.1.1).
 * `currentEtag` is the resource's entity tag now, sent in the problem body so the client can
 * read the resource again, merge, and retry with it.
 */
export class PreconditionFailedError extends AppError {
  constructor(detail: string, currentEtag: string) {
    super('precondition_failed', detail, { extensions: { etag: currentEtag } });
  }
}

/**
 * Seconds a client is told to wait (`Retry-After`) whenever a dependency is down or too slow:
 * the database, the broker, user-service behind the token-validation RPC, and `/health` while
 * unhealthy. One value for all, so a client's backoff does not depend on which one failed; 5 s
 * covers a broker reconnect (200 ms doubling) and a service restart, the common outages.
 */
export const RETRY_AFTER_SECONDS = 5;

/** `Retry-After` of every answer that asks the client to come back later, in whole seconds. */
export function retryAfterHeader(seconds: number = RETRY_AFTER_SECONDS): Record<string, string> {
  return { 'Retry-After': String(seconds) };
}

/** A dependency (database, broker, user-service) is down or too slow; the client may retry later. */
export class ServiceUnavailableError extends AppError {
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super('service_unavailable', detail, {
      cause: options.cause,
      headers: retryAfterHeader(),
    });
  }
}

/**
 * The service is past a load limit and refused the request before doing any of it (load
 * shedding). A 503 like any unavailable dependency, with the same `Retry-After`; kept apart so the
 * error handler does not log each one: under a flood a line per request would be the load, and
 * the shedder logs a summary instead.
 */
export class OverloadedError extends ServiceUnavailableError {
  constructor(readonly limit: 'in_flight' | 'event_loop_delay') {
    super('The service is overloaded right now; try again shortly.');
  }
}
