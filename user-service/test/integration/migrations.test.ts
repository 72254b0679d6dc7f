import test from 'ava';
import { QueryTypes } from 'sequelize';
import { Sequelize } from 'sequelize-typescript';

import { TestEnvironment } from '@shop/test-harness';
import { createMigrator, migrateToLatest } from '@shop/shared-runtime/db';

import { MIGRATIONS } from '../../src/db/schema';

let env: TestEnvironment | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
});

test.after.always(async () => {
  await env?.close();
});

function environment(): TestEnvironment {
  if (!env) throw new Error('the test environment has not started');
  return env;
}

// This service's schema; the migrator itself (its lock, the names it records, creating the database)
// is shared-runtime's, tested in its test/integration/migrator.test.ts.
const ALL_MIGRATIONS = [
  '0001-create-users',
  '0002-create-revoked-tokens',
  '0003-create-outbox-events',
  '0004-add-outbox-traceparent',
];

async function tables(sequelize: Sequelize): Promise<string[]> {
  const rows = await sequelize.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    { type: QueryTypes.SELECT },
  );
  return rows.map((row) => row.tablename);
}

test('migrations → up, down, up again on a fresh database', async (t) => {
  const { url } = await environment().createDatabase('migrations');
  // No models registered: migrations own the schema, and this keeps the app's model untouched.
  const sequelize = new Sequelize(url, { dialect: 'postgres', logging: false });
  t.teardown(() => sequelize.close());
  const migrator = createMigrator(sequelize, MIGRATIONS);

  t.deepEqual(await migrateToLatest(sequelize, MIGRATIONS), ALL_MIGRATIONS);
  t.deepEqual(await tables(sequelize), ['outbox_events', 'revoked_tokens', 'schema_migrations', 'users']);
  t.deepEqual(await migrateToLatest(sequelize, MIGRATIONS), [], 'a second run has nothing to do');

  await migrator.down({ to: 0 });
  t.deepEqual(await tables(sequelize), ['schema_migrations']);
  t.deepEqual(await migrator.pending().then((list) => list.map((m) => m.name)), ALL_MIGRATIONS);

  await migrator.up();
  t.deepEqual(await migrator.executed().then((list) => list.map((m) => m.name)), ALL_MIGRATIONS);
});

test('migrations → the unique index makes usernames unique without regard to case', async (t) => {
  const { url } = await environment().createDatabase('uniqueness');
  const sequelize = new Sequelize(url, { dialect: 'postgres', logging: false });
  t.teardown(() => sequelize.close());
  await migrateToLatest(sequelize, MIGRATIONS);

  const insert = (name: string) =>
    sequelize.query('INSERT INTO users (username, hashed_password) VALUES (:name, :hash)', {
      replacements: { name, hash: 'x'.repeat(60) },
    });
  await insert('Alice');
  await t.throwsAsync(insert('aLICE'), { name: 'SequelizeUniqueConstraintError' });
});
