import type { RequestHandler } from 'express';

export interface CorsOptions {
  /** Exact origins allowed (`https://shop.example`); an empty list turns CORS off. */
  origins: readonly string[];
  /** Methods a preflight may ask for. */
  methods: readonly string[];
  /** Request headers of the service's own a preflight may ask for, beyond {@link ALLOWED_HEADERS} (e.g. `If-Match`). */
  requestHeaders?: readonly string[];
  /** Response headers of the service's own scripts may read, beyond {@link EXPOSED_HEADERS} (e.g. `ETag`). */
  responseHeaders?: readonly string[];
}

/**
 * Request headers a browser may send cross-origin beyond the CORS-safelisted ones.
 * `X-Requested-With` is on every token request of Swagger UI's Authorize (another service's docs
 * logging in at user-service's `/login`).
 */
const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Request-Id, X-Requested-With';

/** Response headers a browser script may read beyond the CORS-safelisted ones. */
const EXPOSED_HEADERS =
  'X-Request-Id, X-Total-Count, Location, Retry-After, WWW-Authenticate, RateLimit, RateLimit-Policy';

/** How long a browser may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * Cross-origin access for the browsers of an exact allow-list of origins. Off (no CORS header
 * at all) when the list is empty, so only same-origin pages and non-browser clients get in.
 * Credentials mode is never offered: tokens travel in `Authorization`, not in cookies.
 */
export function cors(options: CorsOptions): RequestHandler {
  const allowed = new Set(options.origins);
  const methods = options.methods.join(', ');
  const allowedHeaders = [ALLOWED_HEADERS, ...(options.requestHeaders ?? [])].join(', ');
  const exposedHeaders = [EXPOSED_HEADERS, ...(options.responseHeaders ?? [])].join(', ');
  return (req, res, next) => {
    if (allowed.size === 0) {
      next();
      return;
    }
    // The answer depends on Origin, so caches must keep one copy per origin.
    res.vary('Origin');
    const origin = req.headers.origin;
    const permitted = origin !== undefined && allowed.has(origin);
    if (permitted) {
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Expose-Headers', exposedHeaders);
    }
    const isPreflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!isPreflight) {
      next();
      return;
    }
    // A preflight never reaches the routes; without the allow headers the browser refuses.
    if (permitted) {
      res.set({
        'Access-Control-Allow-Methods': methods,
        'Access-Control-Allow-Headers': allowedHeaders,
        'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_SECONDS),
      });
    }
    res.status(204).end();
  };
}
