import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

import {
  ERROR_CODES,
  PROBLEM_CONTENT_TYPE,
  problemType,
  type ErrorCode,
  type ProblemDetails,
} from '@shop/shared-contracts';

import { AppError, OverloadedError } from '../errors';
import type { Logger } from '../logger';
import { requestIdOf } from './request-context';

/** body-parser's error `type`s, mapped to the contract's codes. */
const BODY_PARSER_ERRORS: Record<string, { code: ErrorCode; detail: string }> = {
  'entity.parse.failed': { code: 'malformed_request', detail: 'The request body is not valid JSON.' },
  'entity.too.large': { code: 'payload_too_large', detail: 'The request body is larger than the limit.' },
  'parameters.too.many': { code: 'payload_too_large', detail: 'The form has too many fields.' },
  'request.aborted': { code: 'malformed_request', detail: 'The request body was cut off.' },
  'request.size.invalid': { code: 'malformed_request', detail: 'The request body does not match its Content-Length.' },
  'charset.unsupported': { code: 'unsupported_media_type', detail: 'The request body uses an unsupported charset.' },
  'encoding.unsupported': { code: 'unsupported_media_type', detail: 'The request body uses an unsupported encoding.' },
};

/**
 * Statuses of errors that Express's own layers raise without a `type` (a path that is not valid
 * percent-encoding, a gzip body that does not inflate), mapped to the contract's codes.
 */
const CLIENT_ERROR_STATUSES: Record<number, { code: ErrorCode; detail: string }> = {
  400: { code: 'malformed_request', detail: 'The request could not be read (bad encoding of the path or the body).' },
  413: { code: 'payload_too_large', detail: 'The request body is larger than the limit.' },
  415: { code: 'unsupported_media_type', detail: 'The request body is in an unsupported media type or encoding.' },
};

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError('not_found', `No route for ${req.method} ${req.path}.`));
};

/**
 * The one place errors become HTTP: AppErrors keep their code; body-parser errors get theirs;
 * anything else is a bug, logged with its stack and answered 500 without details.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const appError = toAppError(error);
    if (!appError) {
      logger.error({ err: error }, 'unhandled error');
    } else if (appError.status >= 500 && !(appError instanceof OverloadedError)) {
      logger.warn({ err: appError.cause ?? appError, code: appError.code }, appError.detail);
    }
    const problem = appError ?? new AppError('internal', 'Something went wrong on our side; it has been logged.');
    sendProblem(res, problem, req.originalUrl.split('?')[0] ?? '/', requestIdOf(req));
  };
}

function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  const bodyErrorType = (error as { type?: unknown } | null)?.type;
  const known = typeof bodyErrorType === 'string' ? BODY_PARSER_ERRORS[bodyErrorType] : undefined;
  if (known) return new AppError(known.code, known.detail, { cause: error });
  const status = (error as { status?: unknown } | null)?.status;
  const byStatus = typeof status === 'number' ? CLIENT_ERROR_STATUSES[status] : undefined;
  if (byStatus) return new AppError(byStatus.code, byStatus.detail, { cause: error });
  return undefined;
}

export function sendProblem(res: Response, error: AppError, instance: string, requestId: string): void {
  if (res.headersSent) return;
  const body: ProblemDetails = {
    type: problemType(error.code),
    title: ERROR_CODES[error.code].title,
    status: error.status,
    detail: error.detail,
    instance,
    request_id: requestId,
    ...(error.errors ? { errors: error.errors } : {}),
    ...error.extensions,
  };
  res
    .status(error.status)
    .set(error.headers)
    .type(PROBLEM_CONTENT_TYPE)
    .send(escapeJson(JSON.stringify(body)));
}

/** As Express's `json escape`: a path echoed in `instance` or `detail` can never read as markup. */
function escapeJson(json: string): string {
  return json.replace(/[<>&]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
