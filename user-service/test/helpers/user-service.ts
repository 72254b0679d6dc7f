import 'reflect-metadata';

import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { RecoveringChannelModel } from 'amqplib';
import type { Express } from 'express';
import type { DestinationStream } from 'pino';
import type { Sequelize } from 'sequelize-typescript';

import type { TestEnvironment } from '@shop/test-harness';
import { createSequelize, migrateToLatest, type OutboxRepository } from '@shop/shared-runtime/db';
import type { AuthEventsSubscriber, OutboxRelay } from '@shop/shared-runtime/messaging';

import { composeUserService } from '../../src/composition';
import { loadConfig, type Config } from '../../src/config';
import { MIGRATIONS, MODELS } from '../../src/db/schema';
import { createServiceLogger } from '../../src/logger';
import type { TokenValidationResponder } from '../../src/messaging/token-validation.responder';
import { UserRepository, type TokenSubject } from '../../src/repositories/user.repository';
import type { AuthService } from '../../src/services/auth.service';
import type { TokenSubjectCache } from '../../src/services/token-subject-cache';
import type { TokenService } from '../../src/services/token.service';

/** The secret the test services sign with, so tests can forge tokens with or without it. */
export const TEST_SECRET_KEY = 'test-secret-key-that-is-at-least-32-characters-long';

/** The real user repository, counting the token-subject reads that reach the database. */
export class CountingUserRepository extends UserRepository {
  /** Calls of {@link findTokenSubject} since start: one database round trip each. */
  subjectReads = 0;

  override findTokenSubject(userId: number, jti: string): Promise<TokenSubject | null> {
    this.subjectReads += 1;
    return super.findTokenSubject(userId, jti);
  }
}

/** A migrated database and the Sequelize instance the models are bound to. */
export interface ServiceDatabase {
  url: string;
  sequelize: Sequelize;
}

export interface StartedUserService {
  baseUrl: string;
  config: Readonly<Config>;
  /** The database this instance runs on (shared with the other instances started on it). */
  database: ServiceDatabase;
  sequelize: Sequelize;
  /** This instance's own repository: `subjectReads` counts its database reads of token subjects. */
  users: CountingUserRepository;
  tokens: TokenService;
  authService: AuthService;
  /** The token-subject cache behind this instance's validations. */
  subjectCache: TokenSubjectCache;
  /** Evicts from {@link subjectCache} on the file's auth-events exchange (`config.amqp.authEventsExchange`). */
  subscriber: AuthEventsSubscriber;
  responder: TokenValidationResponder;
  /** Publishes the outbox to this test file's own `auth.events` exchange (`config.amqp.authEventsExchange`). */
  relay: OutboxRelay;
  outbox: OutboxRepository;
  broker: RecoveringChannelModel;
  /** The RPC queue this instance consumes (private to the test run). */
  queue: string;
  /** The broker connection's name, unique to this instance. */
  connectionName: string;
  close(): Promise<void>;
}

export interface UserServiceOptions {
  /** Where the service's log lines go, to read them in a test; stdout when absent. */
  logDestination?: DestinationStream;
  /**
   * Another instance's database, to run several instances of one deployment; it stays open
   * when this instance closes. A fresh migrated database of its own when absent.
   */
  database?: ServiceDatabase;
}

let instances = 0;

/**
 * Starts user-service with main.ts's own wiring (composition.ts) — real config parsing, a
 * migrated database, the real responder, auth-events subscriber and outbox relay on the real
 * broker — with the HTTP app on an ephemeral port. Instances on one database share its Sequelize instance (sequelize-typescript
 * binds the models to one per process), but each has its own repositories, cache and connection.
 */
export async function startUserService(
  env: TestEnvironment,
  overrides: Record<string, string> = {},
  options: UserServiceOptions = {},
): Promise<StartedUserService> {
  instances += 1;
  const instance = instances;
  const ownDatabase = options.database === undefined;
  const databaseUrl = options.database?.url ?? (await env.createDatabase('users')).url;
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    AMQP_URL: env.amqpUrl,
    AUTH_RPC_QUEUE: env.queueName('auth.validate_token'),
    AUTH_EVENTS_EXCHANGE: env.exchangeName('auth.events'),
    SECRET_KEY: TEST_SECRET_KEY,
    BCRYPT_ROUNDS: '4',
    RATE_LIMIT_PER_MINUTE: '0',
    LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  });
  // The service's own logger, so what it redacts is what the tests see.
  const logger = createServiceLogger({
    level: config.log.level,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  let sequelize: Sequelize;
  if (options.database) {
    sequelize = options.database.sequelize;
  } else {
    sequelize = createSequelize({ url: config.db.url, poolMax: config.db.poolMax, models: MODELS, logger });
    await migrateToLatest(sequelize, MIGRATIONS);
  }
  const queue = config.amqp.rpcQueue;

  const users = new CountingUserRepository();
  const runtime = await composeUserService(config, logger, sequelize, {
    connectionName: `user-service.test.${env.runId}.${instance}`,
    authEventsQueue: env.queueName(`user-service.auth-events.${instance}`),
    users,
    collectProcessMetrics: false,
  });
  await runtime.broker.waitForConnect();
  const server = await listen(runtime.app);
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    config,
    database: { url: config.db.url, sequelize },
    sequelize,
    users,
    tokens: runtime.tokens,
    authService: runtime.authService,
    subjectCache: runtime.subjectCache,
    subscriber: runtime.authEvents,
    responder: runtime.responder,
    relay: runtime.relay,
    outbox: runtime.outbox,
    broker: runtime.broker,
    queue,
    connectionName: runtime.connectionName,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      await runtime.stopResponding(1000);
      await runtime.close();
      if (ownDatabase) await sequelize.close();
    },
  };
}

function listen(app: Express): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => {
      resolve(server);
    });
    server.once('error', reject);
  });
}
