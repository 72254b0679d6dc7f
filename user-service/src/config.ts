import Joi from 'joi';
import { randomBytes } from 'node:crypto';

import { AUTH_EVENTS_EXCHANGE, AUTH_VALIDATE_TOKEN_QUEUE } from '@shop/shared-contracts';

export const SIGNING_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** Shortest `SECRET_KEY` accepted in production, in characters (HS256 wants ≥ 256 bits). */
export const MIN_SECRET_KEY_LENGTH = 32;

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
    /** Queue the token-validation responder consumes. */
    rpcQueue: string;
    /** Unacknowledged RPC requests one instance works on at once. */
    prefetch: number;
    /** Topic exchange user-service publishes its events on (`auth.token_revoked`, `user.deactivated`). */
    authEventsExchange: string;
  };
  auth: {
    secretKey: string;
    /** True when no SECRET_KEY was given and a random one was made: tokens die with the process. */
    secretKeyGenerated: boolean;
    algorithm: SigningAlgorithm;
    /** Lifetime of an access token, in seconds. */
    accessTokenTtlSeconds: number;
    bcryptRounds: number;
    issuer: string;
    audience: string;
  };
  subjectCache: {
    /**
     * How long a token's subject (user active, token not revoked) is reused for validations, in
     * ms, counted from when it was read and never past the token's expiry. 0: nothing is stored;
     * concurrent validations of one token still share one read.
     */
    ttlMs: number;
    /** Subjects kept at most; the least recently used go first. */
    maxEntries: number;
  };
  rateLimit: {
    /** Login and register attempts per client address per minute; 0 turns limiting off. */
    perMinute: number;
    /** Failed logins per username (any letter case) per minute; 0 turns limiting off. */
    loginPerUsernamePerMinute: number;
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

const schema = Joi.object({
  NODE_ENV: Joi.string().valid('development', 'production', 'test').default('development'),
  PORT: Joi.number().port().default(8001),
  BODY_LIMIT_BYTES: Joi.number().integer().min(1024).max(10_485_760).default(102_400),
  TRUST_PROXY_HOPS: Joi.number().integer().min(0).max(10).default(0),
  CORS_ORIGINS: corsOrigins,
  DATABASE_URL: Joi.string()
    .uri({ scheme: ['postgres', 'postgresql'] })
    .default('postgres://postgres@localhost:5432/user_service_db'),
  MIGRATE_ON_START: Joi.boolean().truthy('1').falsy('0').default(true),
  DB_POOL_MAX: Joi.number().integer().min(2).max(100).default(10),
  AMQP_URL: Joi.string()
    .uri({ scheme: ['amqp', 'amqps'] })
    .default('amqp://guest:guest@localhost:5672'),
  AUTH_RPC_QUEUE: Joi.string()
    .pattern(/^[A-Za-z0-9._:-]{1,200}$/)
    .default(AUTH_VALIDATE_TOKEN_QUEUE),
  AUTH_RPC_PREFETCH: Joi.number().integer().min(1).max(1000).default(64),
  AUTH_EVENTS_EXCHANGE: Joi.string()
    .pattern(/^[A-Za-z0-9._:-]{1,200}$/)
    .default(AUTH_EVENTS_EXCHANGE),
  SECRET_KEY: Joi.string().when('NODE_ENV', {
    is: 'production',
    then: Joi.string().min(MIN_SECRET_KEY_LENGTH).required(),
    otherwise: Joi.string().min(1),
  }),
  ALGORITHM: Joi.string()
    .valid(...SIGNING_ALGORITHMS)
    .default('HS256'),
  ACCESS_TOKEN_EXPIRE_MINUTES: Joi.number().integer().min(1).max(43_200).default(30),
  BCRYPT_ROUNDS: Joi.number().integer().min(4).max(15).default(12),
  JWT_ISSUER: Joi.string().default('user-service'),
  JWT_AUDIENCE: Joi.string().default('shop'),
  // Revocations reach every instance within milliseconds through the auth events; the TTL bounds
  // how long one can be missed (broker outage, a change made in the database by hand).
  TOKEN_SUBJECT_CACHE_TTL_MS: Joi.number().integer().min(0).max(600_000).default(5000),
  // lru-cache preallocates its index arrays at `max`: a bound keeps a typo from costing gigabytes.
  TOKEN_SUBJECT_CACHE_MAX_ENTRIES: Joi.number().integer().min(1).max(1_000_000).default(10_000),
  RATE_LIMIT_PER_MINUTE: Joi.number().integer().min(0).default(20),
  LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE: Joi.number().integer().min(0).default(10),
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
  const vars = result.value as Record<string, unknown> & {
    NODE_ENV: Config['env'];
    SECRET_KEY?: string;
    ALGORITHM: SigningAlgorithm;
  };
  const secretKeyGenerated = vars.SECRET_KEY === undefined;

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
      rpcQueue: vars.AUTH_RPC_QUEUE as string,
      prefetch: vars.AUTH_RPC_PREFETCH as number,
      authEventsExchange: vars.AUTH_EVENTS_EXCHANGE as string,
    },
    auth: {
      secretKey: vars.SECRET_KEY ?? randomBytes(48).toString('base64url'),
      secretKeyGenerated,
      algorithm: vars.ALGORITHM,
      accessTokenTtlSeconds: (vars.ACCESS_TOKEN_EXPIRE_MINUTES as number) * 60,
      bcryptRounds: vars.BCRYPT_ROUNDS as number,
      issuer: vars.JWT_ISSUER as string,
      audience: vars.JWT_AUDIENCE as string,
    },
    subjectCache: {
      ttlMs: vars.TOKEN_SUBJECT_CACHE_TTL_MS as number,
      maxEntries: vars.TOKEN_SUBJECT_CACHE_MAX_ENTRIES as number,
    },
    rateLimit: {
      perMinute: vars.RATE_LIMIT_PER_MINUTE as number,
      loginPerUsernamePerMinute: vars.LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE as number,
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
