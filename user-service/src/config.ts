import Joi from 'joi';
import { randomBytes } from 'node:crypto';

import { AUTH_EVENTS_EXCHANGE, AUTH_VALIDATE_TOKEN_QUEUE } from '@shop/shared-contracts';
import {
  brokerIdentitiesOf,
  brokerIdentityEnvKeys,
  brokerName,
  cacheConfigOf,
  cacheEnvKeys,
  commonConfigOf,
  commonEnvKeys,
  DEFAULT_LOAD_SHEDDING,
  deepFreeze,
  loadSheddingConfigOf,
  loadSheddingEnvKeys,
  validateEnv,
  type BrokerIdentities,
  type CacheConfig,
  type CommonConfig,
  type LoadSheddingConfig,
} from '@shop/shared-runtime';

export const SIGNING_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** The queue types `AUTH_RPC_QUEUE_TYPE` takes (RabbitMQ's `x-queue-type`). */
export const RPC_QUEUE_TYPES = ['quorum', 'classic'] as const;
export type RpcQueueType = (typeof RPC_QUEUE_TYPES)[number];

/** Shortest `SECRET_KEY` accepted in production, in characters (HS256 wants ≥ 256 bits). */
export const MIN_SECRET_KEY_LENGTH = 32;

export interface Config extends Omit<CommonConfig, 'amqpUrls'> {
  /** Past either limit new requests get 503 at once (LOAD_SHED_MAX_IN_FLIGHT, LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS). */
  loadShedding: LoadSheddingConfig;
  amqp: {
    /** The broker's URL, or a cluster's nodes in the order they are tried. */
    urls: string[];
    /** Queue the token-validation responder consumes (and declares: user-service owns it). */
    rpcQueue: string;
    /**
     * Its type: `quorum` (replicated, survives a node; the default) or `classic` (on one node).
     * Chosen from the cluster bench, docs/benchmarks.md.
     */
    rpcQueueType: RpcQueueType;
    /** Unacknowledged RPC requests one instance works on at once. */
    prefetch: number;
    /** Topic exchange user-service publishes its events on (`auth.token_revoked`, `user.deactivated`). */
    authEventsExchange: string;
    /** Who is who on the broker: this service's user (the `userId` it publishes with) and product-service's. */
    identities: BrokerIdentities;
    /**
     * Broker users whose token checks are answered (`AUTH_RPC_ALLOWED_CALLERS`); others get a
     * `forbidden` error reply. Undefined: any caller (the local default).
     */
    allowedCallers: readonly string[] | undefined;
  };
  auth: {
    /** The key new tokens are signed with; it verifies too. */
    secretKey: string;
    /** Keys that still verify, after a rotation (`PREVIOUS_SECRET_KEYS`); none by default. */
    previousSecretKeys: readonly string[];
    /** True when no SECRET_KEY was given and a random one was made: tokens die with the process. */
    secretKeyGenerated: boolean;
    algorithm: SigningAlgorithm;
    /** Lifetime of an access token, in seconds. */
    accessTokenTtlSeconds: number;
    bcryptRounds: number;
    issuer: string;
    audience: string;
  };
  /**
   * The token-subject cache: how long a token's subject (user active, token not revoked) is
   * reused for validations, counted from when it was read (0: nothing is stored; concurrent
   * validations of one token still share one read), and how many subjects are kept.
   */
  subjectCache: CacheConfig;
  rateLimit: {
    /** Login and register attempts per client address per minute; 0 turns limiting off. */
    perMinute: number;
    /** Failed logins per username (any letter case) per minute; 0 turns limiting off. */
    loginPerUsernamePerMinute: number;
  };
}

/** Where product-service's docs run locally (`npm start`): the origins a browser sends from them. */
export const PRODUCT_DOCS_LOCAL_ORIGINS = ['http://localhost:8002', 'http://127.0.0.1:8002'] as const;

/**
 * A comma-separated list (blanks around commas ignored, repeats dropped) whose every entry
 * `item` accepts; read back as a string array, empty when only commas were given.
 */
function commaList(item: Joi.StringSchema, rule: string): Joi.StringSchema {
  return Joi.string()
    .empty('')
    .custom((value: string, helpers) => {
      const entries = [...new Set(value.split(',').map((entry) => entry.trim()))].filter((entry) => entry !== '');
      const bad = entries.find((entry) => item.validate(entry).error !== undefined);
      if (bad !== undefined) {
        // The rule, never the entry: it may be a secret key.
        return helpers.message({ custom: `{{#label}} must be a comma-separated list of ${rule}` });
      }
      return entries;
    });
}

const schema = Joi.object({
  ...commonEnvKeys({
    port: 8001,
    database: 'user_service_db',
    // product-service's API docs on this machine log in here (Swagger UI's Authorize).
    developmentCorsOrigins: PRODUCT_DOCS_LOCAL_ORIGINS,
  }),
  ...loadSheddingEnvKeys(DEFAULT_LOAD_SHEDDING),
  AUTH_RPC_QUEUE: brokerName(AUTH_VALIDATE_TOKEN_QUEUE),
  AUTH_RPC_QUEUE_TYPE: Joi.string()
    .valid(...RPC_QUEUE_TYPES)
    .default('quorum'),
  AUTH_RPC_PREFETCH: Joi.number().integer().min(1).max(1000).default(64),
  AUTH_EVENTS_EXCHANGE: brokerName(AUTH_EVENTS_EXCHANGE),
  ...brokerIdentityEnvKeys(),
  AUTH_RPC_ALLOWED_CALLERS: commaList(
    Joi.string().pattern(/^[A-Za-z0-9._@:-]{1,200}$/),
    'RabbitMQ user names (letters, digits, . _ @ : -)',
  ),
  SECRET_KEY: Joi.string().when('NODE_ENV', {
    is: 'production',
    then: Joi.string().min(MIN_SECRET_KEY_LENGTH).required(),
    otherwise: Joi.string().min(1),
  }),
  // Comma-separated, so a key may not contain a comma (nor may SECRET_KEY, to be rotated into it).
  PREVIOUS_SECRET_KEYS: Joi.when('NODE_ENV', {
    is: 'production',
    then: commaList(Joi.string().min(MIN_SECRET_KEY_LENGTH), `keys of at least ${MIN_SECRET_KEY_LENGTH} characters`),
    otherwise: commaList(Joi.string().min(1), 'keys'),
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
  ...cacheEnvKeys('TOKEN_SUBJECT_CACHE', { maxMs: 600_000, defaultMs: 5000 }),
  RATE_LIMIT_PER_MINUTE: Joi.number().integer().min(0).default(20),
  LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE: Joi.number().integer().min(0).default(10),
}).unknown(true);

/**
 * Every variable `loadConfig` reads, by name: what a deployment may set (the Kubernetes manifests'
 * test checks theirs against it; any other variable is ignored by the service).
 */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(
  Object.keys(schema.describe().keys as Record<string, unknown>),
);

/**
 * Reads and checks the environment once, at start. Every bad variable is listed in one
 * error, so an operator fixes them all in one go. The result is frozen.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const vars = validateEnv(schema, env) as Record<string, unknown> & {
    SECRET_KEY?: string;
    ALGORITHM: SigningAlgorithm;
  };
  const secretKeyGenerated = vars.SECRET_KEY === undefined;
  const { amqpUrls, ...common } = commonConfigOf(vars);
  const identities = brokerIdentitiesOf(vars, 'user-service', amqpUrls);

  return deepFreeze({
    ...common,
    loadShedding: loadSheddingConfigOf(vars),
    amqp: {
      urls: amqpUrls,
      rpcQueue: vars.AUTH_RPC_QUEUE as string,
      rpcQueueType: vars.AUTH_RPC_QUEUE_TYPE as RpcQueueType,
      prefetch: vars.AUTH_RPC_PREFETCH as number,
      authEventsExchange: vars.AUTH_EVENTS_EXCHANGE as string,
      identities,
      allowedCallers: nonEmpty(vars.AUTH_RPC_ALLOWED_CALLERS as string[] | undefined),
    },
    auth: {
      secretKey: vars.SECRET_KEY ?? randomBytes(48).toString('base64url'),
      previousSecretKeys: (vars.PREVIOUS_SECRET_KEYS as string[] | undefined) ?? [],
      secretKeyGenerated,
      algorithm: vars.ALGORITHM,
      accessTokenTtlSeconds: (vars.ACCESS_TOKEN_EXPIRE_MINUTES as number) * 60,
      bcryptRounds: vars.BCRYPT_ROUNDS as number,
      issuer: vars.JWT_ISSUER as string,
      audience: vars.JWT_AUDIENCE as string,
    },
    subjectCache: cacheConfigOf(vars, 'TOKEN_SUBJECT_CACHE'),
    rateLimit: {
      perMinute: vars.RATE_LIMIT_PER_MINUTE as number,
      loginPerUsernamePerMinute: vars.LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE as number,
    },
  });
}

function nonEmpty(list: readonly string[] | undefined): readonly string[] | undefined {
  return list && list.length > 0 ? list : undefined;
}
