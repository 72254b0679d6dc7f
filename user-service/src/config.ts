import Joi from 'joi';
import { randomBytes } from 'node:crypto';

import { AUTH_EVENTS_EXCHANGE, AUTH_VALIDATE_TOKEN_QUEUE } from '@shop/shared-contracts';
import {
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
  type CacheConfig,
  type CommonConfig,
  type LoadSheddingConfig,
} from '@shop/shared-runtime';

export const SIGNING_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** Shortest `SECRET_KEY` accepted in production, in characters (HS256 wants ≥ 256 bits). */
export const MIN_SECRET_KEY_LENGTH = 32;

export interface Config extends Omit<CommonConfig, 'amqpUrl'> {
  /** Past either limit new requests get 503 at once (LOAD_SHED_MAX_IN_FLIGHT, LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS). */
  loadShedding: LoadSheddingConfig;
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

const schema = Joi.object({
  ...commonEnvKeys({ port: 8001, database: 'user_service_db' }),
  ...loadSheddingEnvKeys(DEFAULT_LOAD_SHEDDING),
  AUTH_RPC_QUEUE: brokerName(AUTH_VALIDATE_TOKEN_QUEUE),
  AUTH_RPC_PREFETCH: Joi.number().integer().min(1).max(1000).default(64),
  AUTH_EVENTS_EXCHANGE: brokerName(AUTH_EVENTS_EXCHANGE),
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
  ...cacheEnvKeys('TOKEN_SUBJECT_CACHE', { maxMs: 600_000, defaultMs: 5000 }),
  RATE_LIMIT_PER_MINUTE: Joi.number().integer().min(0).default(20),
  LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE: Joi.number().integer().min(0).default(10),
}).unknown(true);

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
  const { amqpUrl, ...common } = commonConfigOf(vars);

  return deepFreeze({
    ...common,
    loadShedding: loadSheddingConfigOf(vars),
    amqp: {
      url: amqpUrl,
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
    subjectCache: cacheConfigOf(vars, 'TOKEN_SUBJECT_CACHE'),
    rateLimit: {
      perMinute: vars.RATE_LIMIT_PER_MINUTE as number,
      loginPerUsernamePerMinute: vars.LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE as number,
    },
  });
}
