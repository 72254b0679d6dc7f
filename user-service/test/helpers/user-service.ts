import 'reflect-metadata';

import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { RecoveringChannelModel } from 'amqplib';
import type { DestinationStream } from 'pino';
import type { Sequelize } from 'sequelize-typescript';

import type { TestEnvironment } from '@shop/test-harness';

import { createApp } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { createSequelize, databaseHealthCheck } from '../../src/db/database';
import { migrateToLatest } from '../../src/db/migrator';
import { createLogger } from '../../src/logger';
import { connectToBroker, setupAll } from '../../src/messaging/broker-connection';
import { OutboxRelay } from '../../src/messaging/outbox-relay';
import { TokenValidationResponder } from '../../src/messaging/token-validation.responder';
import { OutboxRepository } from '../../src/repositories/outbox.repository';
import { RevokedTokenRepository } from '../../src/repositories/revoked-token.repository';
import { transactionRunner } from '../../src/repositories/transaction';
import { UserRepository } from '../../src/repositories/user.repository';
import { AuthService } from '../../src/services/auth.service';
import { PasswordHasher } from '../../src/services/password-hasher';
import { TokenService } from '../../src/services/token.service';

/** The secret the test services sign with, so tests can forge tokens with or without it. */
export const TEST_SECRET_KEY = 'test-secret-key-that-is-at-least-32-characters-long';

export interface StartedUserService {
  baseUrl: string;
  config: Readonly<Config>;
  sequelize: Sequelize;
  users: UserRepository;
  tokens: TokenService;
  authService: AuthService;
  responder: TokenValidationResponder;
  /** Publishes the outbox to this test file's own `auth.events` exchange (`config.amqp.authEventsExchange`). */
  relay: OutboxRelay;
  outbox: OutboxRepository;
  broker: RecoveringChannelModel;
  /** The RPC queue this instance consumes (private to the test run). */
  queue: string;
  /** The broker connection's name, unique to this test run. */
  connectionName: string;
  close(): Promise<void>;
}

/**
 * Starts user-service the way main.ts does — real config parsing, a fresh migrated database,
 * the real responder on the real broker — with the HTTP app on an ephemeral port.
 */
export interface UserServiceOptions {
  /** Where the service's log lines go, to read them in a test; stdout when absent. */
  logDestination?: DestinationStream;
}

export async function startUserService(
  env: TestEnvironment,
  overrides: Record<string, string> = {},
  options: UserServiceOptions = {},
): Promise<StartedUserService> {
  const database = await env.createDatabase('users');
  const queue = env.queueName('auth.validate_token');
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    AMQP_URL: env.amqpUrl,
    AUTH_RPC_QUEUE: queue,
    AUTH_EVENTS_EXCHANGE: env.exchangeName('auth.events'),
    SECRET_KEY: TEST_SECRET_KEY,
    BCRYPT_ROUNDS: '4',
    RATE_LIMIT_PER_MINUTE: '0',
    LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  });
  const logger = createLogger({
    level: config.log.level,
    service: 'user-service',
    version: 'test',
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const sequelize = createSequelize({ url: config.db.url, poolMax: config.db.poolMax, logger });
  await migrateToLatest(sequelize);

  const users = new UserRepository();
  const tokens = new TokenService({
    secretKey: config.auth.secretKey,
    algorithm: config.auth.algorithm,
    ttlSeconds: config.auth.accessTokenTtlSeconds,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
  });
  const withTransaction = transactionRunner(sequelize);
  const outbox = new OutboxRepository({ sequelize });
  const relay = new OutboxRelay({
    exchange: config.amqp.authEventsExchange,
    outbox,
    withTransaction,
    logger,
  });
  const authService = new AuthService({
    users,
    revokedTokens: new RevokedTokenRepository(),
    outbox,
    withTransaction,
    events: relay,
    passwords: new PasswordHasher({ rounds: config.auth.bcryptRounds }),
    tokens,
  });
  const responder = new TokenValidationResponder({
    queue,
    prefetch: config.amqp.prefetch,
    validate: (token) => authService.validateToken(token),
    logger,
  });
  const connectionName = `user-service.test.${env.runId}`;
  const broker = await connectToBroker({
    url: config.amqp.url,
    connectionName,
    setup: setupAll([responder.setup, relay.setup]),
    logger,
  });
  await broker.waitForConnect();
  relay.start();

  const app = createApp({
    config,
    logger,
    authService,
    healthChecks: [databaseHealthCheck(sequelize), responder.healthCheck()],
  });
  const server = await listen(app);
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    config,
    sequelize,
    users,
    tokens,
    authService,
    responder,
    relay,
    outbox,
    broker,
    queue,
    connectionName,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      await responder.stop(1000);
      await relay.stop(1000);
      await broker.close();
      await sequelize.close();
    },
  };
}

function listen(app: ReturnType<typeof createApp>): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => {
      resolve(server);
    });
    server.once('error', reject);
  });
}
