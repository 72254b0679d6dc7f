import test from 'ava';
import { QueryTypes } from 'sequelize';
import { Sequelize } from 'sequelize-typescript';

import { TestEnvironment } from '@shop/test-harness';
import { createLogger } from '@shop/shared-runtime';
import { createMigrator, ensureDatabaseExists, migrateToLatest } from '@shop/shared-runtime/db';

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

const ALL_MIGRATIONS = ['0001-create-users', '0002-create-revoked-tokens', '0003-create-outbox-events'];

const logger = createLogger({ level: 'silent', service: 'user-service', version: 'test' });

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
  const migrator = createMigrator(sequelize);

  t.deepEqual(await migrateToLatest(sequelize), ALL_MIGRATIONS);
  t.deepEqual(await tables(sequelize), ['outbox_events', 'revoked_tokens', 'schema_migrations', 'users']);
  t.deepEqual(await migrateToLatest(sequelize), [], 'a second run has nothing to do');

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
  await migrateToLatest(sequelize);

  const insert = (name: string) =>
    sequelize.query('INSERT INTO users (username, hashed_password) VALUES (:name, :hash)', {
      replacements: { name, hash: 'x'.repeat(60) },
    });
  await insert('Alice');
  await t.throwsAsync(insert('aLICE'), { name: 'SequelizeUniqueConstraintError' });
});

test('migrations → concurrent starts (replicas) migrate once, without errors', async (t) => {
  const { url } = await environment().createDatabase('replicas');
  const instances = [0, 1, 2].map(() => new Sequelize(url, { dialect: 'postgres', logging: false, pool: { max: 3 } }));
  t.teardown(() => Promise.all(instances.map((instance) => instance.close())));

  const applied = await Promise.all(instances.map((instance) => migrateToLatest(instance)));
  t.deepEqual(applied.flat(), ALL_MIGRATIONS);
});

test('ensureDatabaseExists → creates a missing database, and is a no-op when it exists', async (t) => {
  const name = environment().reserveDatabaseName('created');
  const url = environment().databaseUrl(name);
  await ensureDatabaseExists(url, logger);
  await ensureDatabaseExists(url, logger);

  const sequelize = new Sequelize(url, { dialect: 'postgres', logging: false });
  t.teardown(() => sequelize.close());
  await t.notThrowsAsync(sequelize.authenticate());
});
