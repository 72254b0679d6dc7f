import Joi from 'joi';

import { AUTH_EVENTS_EXCHANGE, AUTH_VALIDATE_TOKEN_QUEUE, PRODUCT_EVENTS_EXCHANGE } from '@shop/shared-contracts';
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

export interface Config extends Omit<CommonConfig, 'amqpUrl'> {
  /** Past either limit new requests get 503 at once (LOAD_SHED_MAX_IN_FLIGHT, LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS). */
  loadShedding: LoadSheddingConfig;
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
  /** The token-validation cache: how long user-service's answer is reused, and how many are kept. */
  authCache: CacheConfig;
}

const schema = Joi.object({
  ...commonEnvKeys({ port: 8002, database: 'product_service_db' }),
  ...loadSheddingEnvKeys(DEFAULT_LOAD_SHEDDING),
  AUTH_RPC_QUEUE: brokerName(AUTH_VALIDATE_TOKEN_QUEUE),
  AUTH_RPC_TIMEOUT_MS: Joi.number().integer().min(50).max(60_000).default(3000),
  AUTH_RPC_MAX_PENDING: Joi.number().integer().min(1).max(1_000_000).default(10_000),
  AUTH_EVENTS_EXCHANGE: brokerName(AUTH_EVENTS_EXCHANGE),
  PRODUCT_EVENTS_EXCHANGE: brokerName(PRODUCT_EVENTS_EXCHANGE),
  ...cacheEnvKeys('AUTH_CACHE', { maxMs: 3_600_000, defaultMs: 30_000 }),
}).unknown(true);

/**
 * Reads and checks the environment once, at start. Every bad variable is listed in one
 * error, so an operator fixes them all in one go. The result is frozen.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const vars = validateEnv(schema, env);
  const { amqpUrl, ...common } = commonConfigOf(vars);

  return deepFreeze({
    ...common,
    loadShedding: loadSheddingConfigOf(vars),
    amqp: {
      url: amqpUrl,
      authEventsExchange: vars.AUTH_EVENTS_EXCHANGE as string,
      productEventsExchange: vars.PRODUCT_EVENTS_EXCHANGE as string,
    },
    rpc: {
      queue: vars.AUTH_RPC_QUEUE as string,
      timeoutMs: vars.AUTH_RPC_TIMEOUT_MS as number,
      maxPending: vars.AUTH_RPC_MAX_PENDING as number,
    },
    authCache: cacheConfigOf(vars, 'AUTH_CACHE'),
  });
}
