/**
 * The ceiling of any delegated token check: product-service itself — the same composition, the
 * same routes, outbox and relay — with bearer tokens verified in process (the JWT secret at
 * hand, HS256 pinned, issuer and audience checked, a KeyObject made once) instead of by the
 * cache and the RPC. A deployment could only do this by giving product-service the secret,
 * which the architecture forbids; the cached scenario is measured against it. Run as its own
 * process; prints the ready line.
 */
import 'reflect-metadata';

import { createSecretKey, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';

import jwt from 'jsonwebtoken';

import {
  MODELS,
  composeProductService,
  createServiceLogger,
  loadConfig,
  type AuthenticatedUser,
  type TokenValidator,
} from '@shop/product-service';
import { UnauthorizedError } from '@shop/shared-runtime';
import { createSequelize } from '@shop/shared-runtime/db';

import { announceReady, workerInput } from '../processes';

export interface LocalJwtProductServiceInput {
  /** product-service's environment, as the system under test gets it. */
  env: Record<string, string>;
  secretKey: string;
  issuer: string;
  audience: string;
}

/** Verifies tokens the way user-service does, minus the revocation and user checks it alone can make. */
class LocalJwtValidator implements TokenValidator {
  private readonly key: KeyObject;

  constructor(
    secretKey: string,
    private readonly issuer: string,
    private readonly audience: string,
  ) {
    this.key = createSecretKey(Buffer.from(secretKey, 'utf8'));
  }

  validate(token: string): Promise<AuthenticatedUser> {
    try {
      const claims = jwt.verify(token, this.key, {
        algorithms: ['HS256'],
        issuer: this.issuer,
        audience: this.audience,
      }) as jwt.JwtPayload;
      return Promise.resolve({
        userId: Number(claims.sub),
        username: String(claims.username),
        expiresAt: new Date((claims.exp ?? 0) * 1000),
      });
    } catch {
      return Promise.reject(new UnauthorizedError('The bearer token is not valid.', 'Bearer error="invalid_token"'));
    }
  }
}

async function main(): Promise<void> {
  const input = workerInput() as LocalJwtProductServiceInput;
  const config = loadConfig({ ...input.env, MIGRATE_ON_START: 'false' });
  const logger = createServiceLogger({ level: config.log.level });
  const sequelize = createSequelize({ url: config.db.url, poolMax: config.db.poolMax, models: MODELS, logger });
  const runtime = await composeProductService(config, logger, sequelize, {
    connectionName: `bench.product-service-local-jwt/${process.pid}`,
    authEventsQueue: `bench.product-service-local-jwt.auth-events.${process.pid}`,
    tokenValidator: new LocalJwtValidator(input.secretKey, input.issuer, input.audience),
  });
  await runtime.broker.waitForConnect();
  const server = runtime.app.listen(0, '127.0.0.1', () => {
    announceReady((server.address() as AddressInfo).port);
  });
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void runtime
      .close()
      .then(() => sequelize.close())
      .finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`product-service-local-jwt: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
