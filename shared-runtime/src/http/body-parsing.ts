import express, { type RequestHandler } from 'express';

import { AppError } from '../errors';

/** JSON bodies only as objects or arrays (`strict`), up to the configured size. */
export function jsonBody(limitBytes: number): RequestHandler {
  return express.json({ limit: limitBytes, strict: true, type: 'application/json' });
}

/** HTML-form bodies, as the OAuth2 password flow sends them. */
export function formBody(limitBytes: number): RequestHandler {
  return express.urlencoded({
    limit: limitBytes,
    extended: false,
    parameterLimit: 20,
    type: 'application/x-www-form-urlencoded',
  });
}

/**
 * Refuses a body in any other media type with 415 before anything reads it. A request
 * without a body passes, and its schema then reports the missing fields.
 */
export function requireContentType(...types: string[]): RequestHandler {
  const list = types.join(' or ');
  return (req, _res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && req.is(types) === false) {
      next(new AppError('unsupported_media_type', `Send the request body as ${list}.`));
      return;
    }
    next();
  };
}
