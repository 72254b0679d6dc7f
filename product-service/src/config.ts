import Joi from 'joi';

import { AUTH_EVENTS_EXCHANGE, AUTH_VALIDATE_TOKEN_QUEUE, PRODUCT_EVENTS_EXCHANGE } from '@shop/shared-contracts';

export interface Config {
  env: 'development' | 'production' | 'test';
  http: {
    port: number;
    /** Largest request body accepted, in bytes. */
    bodyLimitBytes: number;
    /** Express `trust proxy` setting: hops of proxies whose X-Forwarded-For is believed. */
    trustProxyHops: number;
    /** Browser origins allowed to call the API cross-origin (exact matches); empty: CORS off. */
    corsOrigins: string[];
  };
  db: {
    url: string;
    migrateOnStart: boolean;
    poolMax: number;
  };
  amqp: {
    url: string;
    /** Topic exchange user-service publishes auth events on; each instance binds its own queue. */
    authEventsExchange: string;
    /** Topic exchange this service publishes its product events on. */
    productEventsExchange: string;
  };
  rpc: {
    /** Queue the token-validation requests go to (user-service consumes it). */
    queue: string;
    /** How long a token-validation call waits for its reply, in ms. */
    timeoutMs: number;
    /** Calls allowed to wait for a reply at once; more are refused with 503 at once. */
    maxPending: number;
  };
  authCache: {
    /** How long a validation answer is reused, in ms (never past the token's expiry); 0: no cache. */
    ttlMs: number;
    /** Validations kept at most; the least recently used go first. */
    maxEntries: number;
  };
  log: {
    level: string;
  };
}

/**
 * `CORS_ORIGINS`: comma-separated exact origins (`https://shop.example,http://localhost:3000`).
 * `*` is refused: the API answers with the caller's data to whoever may read it, so every origin
 * allowed must be named. No credentials mode is offered (tokens travel in `Authorization`, never
 * in cookies), so `Access-Control-Allow-Credentials` is never sent.
 */
const corsOrigins = Joi.string()
  .empty('')
  .default([])
  .custom((value: string, helpers) => {
    const origins = value
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin.length > 0);
    const bad = origins.find((origin) => !isExactOrigin(origin));
    if (bad !== undefined) {
      return helpers.message({
        custom: `{{#label}} must list exact origins like https://shop.example (no "*", path or trailing slash); got ${bad}`,
      });
    }
    return [...new Set(origins)];
  });

/** `scheme://host[:port]` exactly as a browser sends it in `Origin`. */
function isExactOrigin(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
}

const exchangeName = Joi.string().pattern(/^[A-Za-z0-9._:-]{1,200}$/);

const schema = Joi.object({
  NODE_ENV: Joi.string().valid('development', 'production', 'test').default('development'),
  PORT: Joi.number().port().default(8002),
  BODY_LIMIT_BYTES: Joi.number().integer().min(1024).max(10_485_760).default(102_400),
  TRUST_PROXY_HOPS: Joi.number().integer().min(0).max(10).default(0),
  CORS_ORIGINS: corsOrigins,
  DATABASE_URL: Joi.string()
    .uri({ scheme: ['postgres', 'postgresql'] })
    .default('postgres://postgres@localhost:5432/product_service_db'),
  MIGRATE_ON_START: Joi.boolean().truthy('1').falsy('0').default(true),
  DB_POOL_MAX: Joi.number().integer().min(2).max(100).default(10),
  AMQP_URL: Joi.string()
    .uri({ scheme: ['amqp', 'amqps'] })
    .default('amqp://guest:guest@localhost:5672'),
  AUTH_RPC_QUEUE: Joi.string()
    .pattern(/^[A-Za-z0-9._:-]{1,200}$/)
    .default(AUTH_VALIDATE_TOKEN_QUEUE),
  AUTH_RPC_TIMEOUT_MS: Joi.number().integer().min(50).max(60_000).default(3000),
  AUTH_RPC_MAX_PENDING: Joi.number().integer().min(1).max(1_000_000).default(10_000),
  AUTH_EVENTS_EXCHANGE: exchangeName.default(AUTH_EVENTS_EXCHANGE),
  PRODUCT_EVENTS_EXCHANGE: exchangeName.default(PRODUCT_EVENTS_EXCHANGE),
  AUTH_CACHE_TTL_MS: Joi.number().integer().min(0).max(3_600_000).default(30_000),
  // lru-cache preallocates its index arrays at `max`: a bound keeps a typo from costing gigabytes.
  AUTH_CACHE_MAX_ENTRIES: Joi.number().integer().min(1).max(1_000_000).default(10_000),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
}).unknown(true);

/** Raised when the environment is unusable; its message is the one line the service prints. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads and checks the environment once, at start. Every bad variable is listed in one
 * error, so an operator fixes them all in one go. The result is frozen.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const result = schema.validate(env, { abortEarly: false, convert: true }) as Joi.ValidationResult<unknown>;
  if (result.error) {
    const problems = result.error.details.map((detail) => detail.message.replaceAll('"', ''));
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const vars = result.value as Record<string, unknown> & { NODE_ENV: Config['env'] };

  return deepFreeze({
    env: vars.NODE_ENV,
    http: {
      port: vars.PORT as number,
      bodyLimitBytes: vars.BODY_LIMIT_BYTES as number,
      trustProxyHops: vars.TRUST_PROXY_HOPS as number,
      corsOrigins: vars.CORS_ORIGINS as string[],
    },
    db: {
      url: vars.DATABASE_URL as string,
      migrateOnStart: vars.MIGRATE_ON_START as boolean,
      poolMax: vars.DB_POOL_MAX as number,
    },
    amqp: {
      url: vars.AMQP_URL as string,
      authEventsExchange: vars.AUTH_EVENTS_EXCHANGE as string,
      productEventsExchange: vars.PRODUCT_EVENTS_EXCHANGE as string,
    },
    rpc: {
      queue: vars.AUTH_RPC_QUEUE as string,
      timeoutMs: vars.AUTH_RPC_TIMEOUT_MS as number,
      maxPending: vars.AUTH_RPC_MAX_PENDING as number,
    },
    authCache: {
      ttlMs: vars.AUTH_CACHE_TTL_MS as number,
      maxEntries: vars.AUTH_CACHE_MAX_ENTRIES as number,
    },
    log: { level: vars.LOG_LEVEL as string },
  });
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}
