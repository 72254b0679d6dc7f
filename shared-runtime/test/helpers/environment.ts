import test from 'ava';
import path from 'node:path';
import { Sequelize } from 'sequelize-typescript';

import { TestEnvironment } from '@shop/test-harness';

import type { MigrationSource } from '../../src/db';

/** The runtime's own test migrations (test/fixtures/migrations), compiled next to the tests. */
export const FIXTURE_MIGRATIONS: MigrationSource = {
  compiledFolder: path.join(__dirname, '../fixtures/migrations'),
  sourceFolder: path.resolve(__dirname, '../../../test/fixtures/migrations'),
  lockKey: 'shared-runtime-test:migrations',
};

/** Their names as the migrator records them: without the extension. */
export const FIXTURE_MIGRATION_NAMES = ['0001-create-outbox-events', '0002-create-notes'];

export interface TestContext {
  /** This file's environment: its own databases, queue and exchange names. */
  readonly env: TestEnvironment;
  /** Runs `close` when the file ends, before the environment removes what it made (last added, first run). */
  closeLater(close: () => Promise<unknown>): void;
  /**
   * A new empty database of this run, through a Sequelize without models (migrations own the
   * schema; the runtime has no model of its own). Closed when the file ends.
   */
  emptyDatabase(label: string, options?: { poolMax?: number }): Promise<{ sequelize: Sequelize; url: string }>;
}

/**
 * Registers the hooks that give this test file its own environment (databases, queue and
 * exchange names), torn down even when tests fail.
 */
export function useTestEnvironment(): TestContext {
  let env: TestEnvironment | undefined;
  const closers: (() => Promise<unknown>)[] = [];

  test.before(async () => {
    env = await TestEnvironment.start();
  });

  test.after.always(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await env?.close();
  });

  const environment = (): TestEnvironment => {
    if (!env) throw new Error('the test environment has not started');
    return env;
  };

  return {
    get env() {
      return environment();
    },
    closeLater(close) {
      closers.push(close);
    },
    async emptyDatabase(label, options = {}) {
      const { url } = await environment().createDatabase(label);
      const sequelize = new Sequelize(url, {
        dialect: 'postgres',
        logging: false,
        pool: { max: options.poolMax ?? 5 },
      });
      closers.push(() => sequelize.close());
      return { sequelize, url };
    },
  };
}
