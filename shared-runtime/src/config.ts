import Joi from 'joi';

import { redactUrl } from './redact-url';

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

/** OTLP encodings the trace exporter speaks (`OTEL_EXPORTER_OTLP_PROTOCOL`); gRPC is not shipped. */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/**
 * Whether spans are exported, and how. The OpenTelemetry SDK reads the other standard `OTEL_*`
 * variables itself (headers, timeout, sampler, batch sizes, `OTEL_SERVICE_NAME`, ...).
 */
export interface TracingConfig {
  /** An OTLP endpoint is set and tracing is not turned off: the SDK is loaded at start. */
  enabled: boolean;
  /** `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`; default `http/protobuf`. */
  protocol: OtlpProtocol;
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
  /** The broker's URL, or a cluster's nodes' URLs in the order they are tried (`AMQP_URL` split on commas). */
  amqpUrls: string[];
  log: { level: string };
  tracing: TracingConfig;
}

/**
 * `CORS_ORIGINS`: comma-separated exact origins (`https://shop.example,http://localhost:3000`);
 * empty: none; unset: `defaultOrigins`.
 * `*` is refused: the API answers with the caller's data to whoever may read it, so every origin
 * allowed must be named. No credentials mode is offered (tokens travel in `Authorization`, never
 * in cookies), so `Access-Control-Allow-Credentials` is never sent.
 */
const corsOrigins = (defaultOrigins: readonly string[]) =>
  Joi.string()
    // Set but empty: CORS off, whatever the default.
    .allow('')
    // A function: Joi would share (and, on concat, merge into) an array default.
    .default(() => [...defaultOrigins])
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

/**
 * `AMQP_URL`: one broker URL, or several comma-separated (a cluster's nodes, tried in turn). Each
 * must be an amqp(s) URL with a host; the error names the bad one without its password.
 */
const amqpUrls = Joi.string().custom((value: string, helpers) => {
  const urls = value
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
  if (urls.length === 0) return helpers.message({ custom: '{{#label}} must list at least one amqp:// URL' });
  const bad = urls.find((url) => !isAmqpUrl(url));
  if (bad !== undefined) {
    return helpers.message({
      custom: `{{#label}} must be amqp:// or amqps:// URLs with a host, comma-separated; got ${redactUrl(bad)}`,
    });
  }
  return urls;
});

function isAmqpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'amqp:' || url.protocol === 'amqps:') && url.hostname.length > 0;
}

/** A queue or exchange name a variable may set: what RabbitMQ takes, without spaces. */
export const brokerName = (fallback: string): Joi.StringSchema =>
  Joi.string()
    .pattern(/^[A-Za-z0-9._:-]{1,200}$/)
    .default(fallback);

/** An OTLP/HTTP endpoint: an http(s) URL, or empty (the OpenTelemetry spec reads empty as unset). */
const otlpEndpoint = Joi.string()
  .empty('')
  .uri({ scheme: ['http', 'https'] });

const otlpProtocol = Joi.string()
  .empty('')
  .valid(...OTLP_PROTOCOLS)
  .messages({ 'any.only': '{{#label}} must be http/protobuf or http/json (gRPC is not supported)' });

/** The standard OpenTelemetry variables that decide whether and how traces are exported. */
const TRACING_ENV_KEYS: Joi.PartialSchemaMap = {
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpEndpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol,
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol,
  OTEL_SDK_DISABLED: Joi.boolean().empty('').default(false),
  OTEL_TRACES_EXPORTER: Joi.string().empty('').valid('otlp', 'none').default('otlp'),
};

/** A service's own defaults for {@link commonEnvKeys}. */
export interface CommonEnvDefaults {
  /** The port it listens on. */
  port: number;
  /** The database it uses on a local PostgreSQL. */
  database: string;
  /**
   * `CORS_ORIGINS` when unset and `NODE_ENV` is `development` (the local default), e.g. the
   * origin of the other service's API docs on this machine; elsewhere CORS stays off by default.
   */
  developmentCorsOrigins?: readonly string[];
}

/** The Joi keys of the variables every service reads, with the service's own defaults. */
export function commonEnvKeys(defaults: CommonEnvDefaults): Joi.PartialSchemaMap {
  return {
    NODE_ENV: Joi.string().valid('development', 'production', 'test').default('development'),
    PORT: Joi.number().port().default(defaults.port),
    BODY_LIMIT_BYTES: Joi.number().integer().min(1024).max(10_485_760).default(102_400),
    TRUST_PROXY_HOPS: Joi.number().integer().min(0).max(10).default(0),
    CORS_ORIGINS: Joi.any().when('NODE_ENV', {
      is: 'development',
      then: corsOrigins(defaults.developmentCorsOrigins ?? []),
      otherwise: corsOrigins([]),
    }),
    DATABASE_URL: Joi.string()
      .uri({ scheme: ['postgres', 'postgresql'] })
      .default(`postgres://postgres@localhost:5432/${defaults.database}`),
    MIGRATE_ON_START: Joi.boolean().truthy('1').falsy('0').default(true),
    DB_POOL_MAX: Joi.number().integer().min(2).max(100).default(10),
    AMQP_URL: amqpUrls.default(['amqp://guest:guest@localhost:5672']),
    LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
    ...TRACING_ENV_KEYS,
  };
}

/** Tracing's configuration, from variables checked with {@link commonEnvKeys}. */
function tracingConfigOf(vars: Record<string, unknown>): TracingConfig {
  const endpoint = vars.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? vars.OTEL_EXPORTER_OTLP_ENDPOINT;
  const protocol = vars.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? vars.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  return {
    enabled: endpoint !== undefined && vars.OTEL_SDK_DISABLED !== true && vars.OTEL_TRACES_EXPORTER !== 'none',
    protocol: protocol as OtlpProtocol,
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
      corsOrigins: vars.CORS_ORIGINS === '' ? [] : (vars.CORS_ORIGINS as string[]),
    },
    db: {
      url: vars.DATABASE_URL as string,
      migrateOnStart: vars.MIGRATE_ON_START as boolean,
      poolMax: vars.DB_POOL_MAX as number,
    },
    amqpUrls: vars.AMQP_URL as string[],
    log: { level: vars.LOG_LEVEL as string },
    tracing: tracingConfigOf(vars),
  };
}

/** Freezes `value` and every object in it. */
export function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}
