import test from 'ava';
import { Client } from 'pg';
import { QueryTypes } from 'sequelize';
import { Sequelize } from 'sequelize-typescript';

import { waitUntil } from '@shop/test-harness';

import { createLogger } from '../../src';
import { createMigrator, ensureDatabaseExists, MIGRATIONS_TABLE, migrateToLatest } from '../../src/db';
import { FIXTURE_MIGRATION_NAMES, FIXTURE_MIGRATIONS, useTestEnvironment } from '../helpers/environment';

const ctx = useTestEnvironment();

const logger = createLogger({ level: 'silent', service: 'test-service', version: 'test' });

async function tables(sequelize: Sequelize): Promise<string[]> {
  const rows = await sequelize.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    { type: QueryTypes.SELECT },
  );
  return rows.map((row) => row.tablename);
}

/**
 * A session of its own that takes the advisory lock of `key` and holds it until released;
 * `waiters` counts the sessions waiting for an advisory lock in that database meanwhile.
 */
async function holdLock(
  url: string,
  key: string,
): Promise<{ release: () => Promise<void>; waiters: () => Promise<number> }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  ctx.closeLater(() => client.end());
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
  return {
    release: async () => {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
    },
    waiters: async () => {
      const { rows } = await client.query<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pg_locks
          WHERE locktype = 'advisory' AND NOT granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      return rows[0]?.waiting ?? 0;
    },
  };
}

test('migrateToLatest → applies the pending migrations in order, and a second run has nothing to do', async (t) => {
  const { sequelize } = await ctx.emptyDatabase('migrateup');

  t.deepEqual(await migrateToLatest(sequelize, FIXTURE_MIGRATIONS, logger), FIXTURE_MIGRATION_NAMES);
  t.deepEqual(await tables(sequelize), ['notes', 'outbox_events', MIGRATIONS_TABLE]);
  t.deepEqual(await migrateToLatest(sequelize, FIXTURE_MIGRATIONS), [], 'a second run has nothing to do');
});

test('createMigrator → records each migration by its name without the extension, so .js and .ts runs agree', async (t) => {
  const { sequelize } = await ctx.emptyDatabase('migratenames');

  await migrateToLatest(sequelize, FIXTURE_MIGRATIONS);

  const recorded = await sequelize.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY name`, {
    type: QueryTypes.SELECT,
  });
  t.deepEqual(
    recorded.map((row) => row.name),
    FIXTURE_MIGRATION_NAMES,
  );
});

test('createMigrator → down to 0 undoes every migration in reverse, and up applies them again', async (t) => {
  const { sequelize } = await ctx.emptyDatabase('migratedown');
  const migrator = createMigrator(sequelize, FIXTURE_MIGRATIONS, logger);
  await migrateToLatest(sequelize, FIXTURE_MIGRATIONS);

  await migrator.down({ to: 0 });

  t.deepEqual(await tables(sequelize), [MIGRATIONS_TABLE]);
  t.deepEqual(
    (await migrator.pending()).map((migration) => migration.name),
    FIXTURE_MIGRATION_NAMES,
  );
  await migrator.up();
  t.deepEqual(
    (await migrator.executed()).map((migration) => migration.name),
    FIXTURE_MIGRATION_NAMES,
  );
  t.deepEqual(await tables(sequelize), ['notes', 'outbox_events', MIGRATIONS_TABLE]);
});

test('migrateToLatest → concurrent starts (replicas) migrate once, without errors', async (t) => {
  const { url } = await ctx.emptyDatabase('replicas');
  const instances = [0, 1, 2].map(() => new Sequelize(url, { dialect: 'postgres', logging: false, pool: { max: 3 } }));
  t.teardown(() => Promise.all(instances.map((instance) => instance.close())));

  const applied = await Promise.all(instances.map((instance) => migrateToLatest(instance, FIXTURE_MIGRATIONS)));

  t.deepEqual(applied.flat(), FIXTURE_MIGRATION_NAMES);
});

test('migrateToLatest → waits while another session holds its lock key, and migrates once it is released', async (t) => {
  const { sequelize, url } = await ctx.emptyDatabase('lockwait');
  const lock = await holdLock(url, FIXTURE_MIGRATIONS.lockKey);
  let settled = false;

  const migrating = migrateToLatest(sequelize, FIXTURE_MIGRATIONS).finally(() => {
    settled = true;
  });
  await waitUntil(async () => (await lock.waiters()) === 1, 'the migration to wait for the lock', {
    intervalMs: 20,
  });

  t.false(settled, 'still waiting for the lock');
  t.deepEqual(await tables(sequelize), [], 'nothing applied meanwhile');
  await lock.release();
  t.deepEqual(await migrating, FIXTURE_MIGRATION_NAMES);
});

test('migrateToLatest → a lock of another key held on the same database does not hold it up', async (t) => {
  const { sequelize, url } = await ctx.emptyDatabase('lockother');
  await holdLock(url, 'another-service:migrations');

  t.deepEqual(await migrateToLatest(sequelize, FIXTURE_MIGRATIONS), FIXTURE_MIGRATION_NAMES);
});

test('ensureDatabaseExists → creates a missing database, and is a no-op when it exists', async (t) => {
  const name = ctx.env.reserveDatabaseName('created');
  const url = ctx.env.databaseUrl(name);
  await ensureDatabaseExists(url, logger);
  await ensureDatabaseExists(url, logger);

  const sequelize = new Sequelize(url, { dialect: 'postgres', logging: false });
  t.teardown(() => sequelize.close());
  await t.notThrowsAsync(sequelize.authenticate());
});
