import Joi from 'joi';

import { AUTH_EVENTS_EXCHANGE, AUTH_VALIDATE_TOKEN_QUEUE, PRODUCT_EVENTS_EXCHANGE } from '@shop/shared-contracts';
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

export interface Config extends Omit<CommonConfig, 'amqpUrls'> {
  /** Past either limit new requests get 503 at once (LOAD_SHED_MAX_IN_FLIGHT, LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS). */
  loadShedding: LoadSheddingConfig;
  amqp: {
    /** The broker's URL, or a cluster's nodes in the order they are tried. */
    urls: string[];
    /** Topic exchange user-service publishes auth events on; each instance binds its own queue. */
    authEventsExchange: string;
    /** Topic exchange this service publishes its product events on. */
    productEventsExchange: string;
    /**
     * Who is who on the broker: this service's user (the `userId` it publishes with) and
     * user-service's (the only sender whose RPC replies and auth events are believed).
     */
    identities: BrokerIdentities;
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
  idempotency: {
    /** How often keys past their 24 h retention are deleted, in ms. */
    purgeIntervalMs: number;
  };
  docs: {
    /**
     * user-service's base URL as a browser reaches it, without a trailing slash: the API docs'
     * Authorize logs in at its `/login`.
     */
    userServicePublicUrl: string;
  };
}

const schema = Joi.object({
  ...commonEnvKeys({ port: 8002, database: 'product_service_db' }),
  ...loadSheddingEnvKeys(DEFAULT_LOAD_SHEDDING),
  AUTH_RPC_QUEUE: brokerName(AUTH_VALIDATE_TOKEN_QUEUE),
  AUTH_RPC_TIMEOUT_MS: Joi.number().integer().min(50).max(60_000).default(3000),
  AUTH_RPC_MAX_PENDING: Joi.number().integer().min(1).max(1_000_000).default(10_000),
  AUTH_EVENTS_EXCHANGE: brokerName(AUTH_EVENTS_EXCHANGE),
  PRODUCT_EVENTS_EXCHANGE: brokerName(PRODUCT_EVENTS_EXCHANGE),
  ...brokerIdentityEnvKeys(),
  ...cacheEnvKeys('AUTH_CACHE', { maxMs: 3_600_000, defaultMs: 30_000 }),
  IDEMPOTENCY_PURGE_INTERVAL_MS: Joi.number().integer().min(1000).max(86_400_000).default(600_000),
  // Where a browser reaches user-service (not where this service does: it talks over RabbitMQ).
  USER_SERVICE_PUBLIC_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .default('http://localhost:8001'),
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
  const vars = validateEnv(schema, env);
  const { amqpUrls, ...common } = commonConfigOf(vars);

  return deepFreeze({
    ...common,
    loadShedding: loadSheddingConfigOf(vars),
    amqp: {
      urls: amqpUrls,
      authEventsExchange: vars.AUTH_EVENTS_EXCHANGE as string,
      productEventsExchange: vars.PRODUCT_EVENTS_EXCHANGE as string,
      identities: brokerIdentitiesOf(vars, 'product-service', amqpUrls),
    },
    rpc: {
      queue: vars.AUTH_RPC_QUEUE as string,
      timeoutMs: vars.AUTH_RPC_TIMEOUT_MS as number,
      maxPending: vars.AUTH_RPC_MAX_PENDING as number,
    },
    authCache: cacheConfigOf(vars, 'AUTH_CACHE'),
    idempotency: { purgeIntervalMs: vars.IDEMPOTENCY_PURGE_INTERVAL_MS as number },
    docs: { userServicePublicUrl: (vars.USER_SERVICE_PUBLIC_URL as string).replace(/\/+$/, '') },
  });
}
