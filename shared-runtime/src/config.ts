import Joi from 'joi';

/** Raised when the environment is unusable; its message is the one line the service prints. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** What every service's `config.http` holds. */
export interface HttpConfig {
  port: number;
  /** Largest request body accepted, in bytes. */
  bodyLimitBytes: number;
  /** Express `trust proxy` setting: hops of proxies whose X-Forwarded-For is believed. */
  trustProxyHops: number;
  /** Browser origins allowed to call the API cross-origin (exact matches); empty: CORS off. */
  corsOrigins: string[];
}

/** What every service's `config.db` holds. */
export interface DatabaseConfig {
  url: string;
  migrateOnStart: boolean;
  poolMax: number;
}

/** A cache of token checks: how long an answer is reused, and how many are kept. */
export interface CacheConfig {
  /** How long an answer is reused, in ms (never past the token's expiry); 0: nothing is stored. */
  ttlMs: number;
  /** Entries kept at most; the least recently used go first. */
  maxEntries: number;
}

/** Load shedding's limits (see `LoadShedder`): past either, new requests get 503 at once; 0 turns one off. */
export interface LoadSheddingConfig {
  /** Requests in progress at most (health and metrics not counted). */
  maxInFlight: number;
  /** Mean event-loop delay over the last second past which requests are shed, in ms. */
  maxEventLoopDelayMs: number;
}

/**
 * The limits both services ship with, from measurements on the 2-core bench machine
 * (docs/benchmarks.md, "Load shedding"): well above what the normal path reaches, well below
 * where latency runs away.
 */
export const DEFAULT_LOAD_SHEDDING: Readonly<LoadSheddingConfig> = Object.freeze({
  maxInFlight: 128,
  maxEventLoopDelayMs: 1000,
});

/** The part of a configuration every service has, read by {@link commonConfigOf}. */
export interface CommonConfig {
  env: 'development' | 'production' | 'test';
  http: HttpConfig;
  db: DatabaseConfig;
  /** The broker's URL. */
  amqpUrl: string;
  log: { level: string };
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

/** A queue or exchange name a variable may set: what RabbitMQ takes, without spaces. */
export const brokerName = (fallback: string): Joi.StringSchema =>
  Joi.string()
    .pattern(/^[A-Za-z0-9._:-]{1,200}$/)
    .default(fallback);

/**
 * The Joi keys of the variables every service reads, with the service's own defaults: the port
 * it listens on and the database it uses on a local PostgreSQL.
 */
export function commonEnvKeys(defaults: { port: number; database: string }): Joi.PartialSchemaMap {
  return {
    NODE_ENV: Joi.string().valid('development', 'production', 'test').default('development'),
    PORT: Joi.number().port().default(defaults.port),
    BODY_LIMIT_BYTES: Joi.number().integer().min(1024).max(10_485_760).default(102_400),
    TRUST_PROXY_HOPS: Joi.number().integer().min(0).max(10).default(0),
    CORS_ORIGINS: corsOrigins,
    DATABASE_URL: Joi.string()
      .uri({ scheme: ['postgres', 'postgresql'] })
      .default(`postgres://postgres@localhost:5432/${defaults.database}`),
    MIGRATE_ON_START: Joi.boolean().truthy('1').falsy('0').default(true),
    DB_POOL_MAX: Joi.number().integer().min(2).max(100).default(10),
    AMQP_URL: Joi.string()
      .uri({ scheme: ['amqp', 'amqps'] })
      .default('amqp://guest:guest@localhost:5672'),
    LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  };
}

/**
 * The Joi keys of a cache's two variables, `<prefix>_TTL_MS` (0 up to `ttl.maxMs`) and
 * `<prefix>_MAX_ENTRIES`; read them back with {@link cacheConfigOf}.
 */
export function cacheEnvKeys(prefix: string, ttl: { maxMs: number; defaultMs: number }): Joi.PartialSchemaMap {
  return {
    [`${prefix}_TTL_MS`]: Joi.number().integer().min(0).max(ttl.maxMs).default(ttl.defaultMs),
    // lru-cache preallocates its index arrays at `max`: a bound keeps a typo from costing gigabytes.
    [`${prefix}_MAX_ENTRIES`]: Joi.number().integer().min(1).max(1_000_000).default(10_000),
  };
}

/** A cache's configuration, from variables checked with {@link cacheEnvKeys}. */
export function cacheConfigOf(vars: Record<string, unknown>, prefix: string): CacheConfig {
  return { ttlMs: vars[`${prefix}_TTL_MS`] as number, maxEntries: vars[`${prefix}_MAX_ENTRIES`] as number };
}

/**
 * The Joi keys of load shedding's two limits, `LOAD_SHED_MAX_IN_FLIGHT` and
 * `LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS` (0 turns a limit off), with the service's defaults (chosen
 * from measurements: docs/benchmarks.md); read them back with {@link loadSheddingConfigOf}.
 */
export function loadSheddingEnvKeys(defaults: LoadSheddingConfig): Joi.PartialSchemaMap {
  return {
    LOAD_SHED_MAX_IN_FLIGHT: Joi.number().integer().min(0).max(1_000_000).default(defaults.maxInFlight),
    LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: Joi.number().integer().min(0).max(60_000).default(defaults.maxEventLoopDelayMs),
  };
}

/** Load shedding's limits, from variables checked with {@link loadSheddingEnvKeys}. */
export function loadSheddingConfigOf(vars: Record<string, unknown>): LoadSheddingConfig {
  return {
    maxInFlight: vars.LOAD_SHED_MAX_IN_FLIGHT as number,
    maxEventLoopDelayMs: vars.LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS as number,
  };
}

/**
 * Checks `env` against `schema` once, at start. Every bad variable is listed in one
 * ConfigError, so an operator fixes them all in one go; the converted values otherwise.
 */
export function validateEnv(schema: Joi.ObjectSchema, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const result = schema.validate(env, { abortEarly: false, convert: true }) as Joi.ValidationResult<unknown>;
  if (result.error) {
    const problems = result.error.details.map((detail) => detail.message.replaceAll('"', ''));
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return result.value as Record<string, unknown>;
}

/** The common part of a configuration, from variables checked with {@link commonEnvKeys}. */
export function commonConfigOf(vars: Record<string, unknown>): CommonConfig {
  return {
    env: vars.NODE_ENV as CommonConfig['env'],
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
    amqpUrl: vars.AMQP_URL as string,
    log: { level: vars.LOG_LEVEL as string },
  };
}

/** Freezes `value` and every object in it. */
export function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}
