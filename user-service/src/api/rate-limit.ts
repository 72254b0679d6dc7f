import type { Request, RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';

import { AppError } from '@shop/shared-runtime';

/** Window every limit is counted over, in ms. */
const WINDOW_MS = 60_000;

/** Longest username a login can name (as the login schema allows); longer ones are not counted. */
const MAX_USERNAME_KEY_LENGTH = 50;

/**
 * Limits credential attempts per client address per minute (429 with `Retry-After`).
 * `perMinute = 0` turns it off.
 */
export function credentialRateLimit(perMinute: number): RequestHandler {
  return limiter(perMinute, {
    name: 'per-address',
    detail: 'Too many attempts from this address; try again later.',
  });
}

/**
 * Limits failed logins per username per minute, whatever address they come from, so guessing
 * one account's password from many addresses is slow too. Keyed by the lower-cased name as
 * sent, whether or not such a user exists, so a 429 says nothing about the account; successful
 * logins are not counted. `perMinute = 0` turns it off.
 */
export function loginUsernameRateLimit(perMinute: number): RequestHandler {
  return limiter(perMinute, {
    name: 'per-username',
    detail: 'Too many failed logins for this username; try again later.',
    keyGenerator: (req) => `username:${usernameKeyOf(req) ?? ''}`,
    // A body without a usable username gets its 422 from the schema instead.
    skip: (req) => usernameKeyOf(req) === undefined,
    skipSuccessfulRequests: true,
  });
}

function usernameKeyOf(req: Request): string | undefined {
  const username = (req.body as { username?: unknown } | undefined)?.username;
  if (typeof username !== 'string' || username.length === 0 || username.length > MAX_USERNAME_KEY_LENGTH) {
    return undefined;
  }
  return username.toLowerCase();
}

function limiter(
  perMinute: number,
  options: {
    /** Names the policy in the `RateLimit` headers and the request property the count is kept in. */
    name: string;
    detail: string;
    keyGenerator?: (req: Request) => string;
    skip?: (req: Request) => boolean;
    skipSuccessfulRequests?: boolean;
  },
): RequestHandler {
  if (perMinute === 0) {
    return (_req, _res, next) => {
      next();
    };
  }
  // Each limiter keeps its own count on the request, so two on one route do not overwrite each other.
  const requestPropertyName = `rateLimit:${options.name}`;
  return rateLimit({
    identifier: options.name,
    requestPropertyName,
    windowMs: WINDOW_MS,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    ...(options.keyGenerator ? { keyGenerator: options.keyGenerator } : {}),
    ...(options.skip ? { skip: options.skip } : {}),
    skipSuccessfulRequests: options.skipSuccessfulRequests ?? false,
    handler: (req, _res, next) => {
      const info = (req as unknown as Record<string, { resetTime?: Date } | undefined>)[requestPropertyName];
      const resetTime = info?.resetTime;
      const retryAfter = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : 60;
      next(new AppError('rate_limited', options.detail, { headers: { 'Retry-After': String(retryAfter) } }));
    },
  });
}
