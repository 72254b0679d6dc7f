import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';

import { AppError } from '../errors';

/**
 * Limits credential attempts per client address per minute (429 with `Retry-After`).
 * `perMinute = 0` turns it off.
 */
export function credentialRateLimit(perMinute: number): RequestHandler {
  if (perMinute === 0) {
    return (_req, _res, next) => {
      next();
    };
  }
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, _res, next) => {
      const resetTime = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : 60;
      next(
        new AppError('rate_limited', 'Too many attempts from this address; try again later.', {
          headers: { 'Retry-After': String(retryAfter) },
        }),
      );
    },
  });
}
