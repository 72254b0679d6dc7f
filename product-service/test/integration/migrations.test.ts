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
  '0001-create-products',
  '0002-create-outbox-events',
  '0003-add-product-version',
  '0004-create-idempotency-keys',
  '0005-add-outbox-traceparent',
];

/** A connection without models: migrations own the schema, and the app's model stays untouched. */
async function migratedDatabase(label: string): Promise<Sequelize> {
  const { url } = await environment().createDatabase(label);
  const sequelize = new Sequelize(url, { dialect: 'postgres', logging: false });
  await migrateToLatest(sequelize, MIGRATIONS);
  return sequelize;
}

async function tables(sequelize: Sequelize): Promise<string[]> {
  const rows = await sequelize.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    { type: QueryTypes.SELECT },
  );
  return rows.map((row) => row.tablename);
}

test('migrations → up, down, up again on a fresh database', async (t) => {
  const { url } = await environment().createDatabase('migrations');
  const sequelize = new Sequelize(url, { dialect: 'postgres', logging: false });
  t.teardown(() => sequelize.close());
  const migrator = createMigrator(sequelize, MIGRATIONS);

  t.deepEqual(await migrateToLatest(sequelize, MIGRATIONS), ALL_MIGRATIONS);
  t.deepEqual(await tables(sequelize), ['idempotency_keys', 'outbox_events', 'products', 'schema_migrations']);
  t.deepEqual(await migrateToLatest(sequelize, MIGRATIONS), [], 'a second run has nothing to do');

  await migrator.down({ to: 0 });
  t.deepEqual(await tables(sequelize), ['schema_migrations']);
  await migrator.up();
  t.deepEqual(
    (await migrator.executed()).map((migration) => migration.name),
    ALL_MIGRATIONS,
  );
});

test('migrations → products columns have the contract types and owner_id is indexed', async (t) => {
  const sequelize = await migratedDatabase('columns');
  t.teardown(() => sequelize.close());

  const columns = await sequelize.query<{ column_name: string; type: string; is_nullable: string }>(
    `SELECT a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable
       FROM pg_attribute a
      WHERE a.attrelid = 'products'::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    { type: QueryTypes.SELECT },
  );
  t.deepEqual(
    columns.map((column) => [column.column_name, column.type, column.is_nullable]),
    [
      ['id', 'integer', 'NO'],
      ['name', 'character varying(255)', 'NO'],
      ['description', 'character varying(1000)', 'YES'],
      ['price', 'numeric(12,2)', 'NO'],
      ['quantity', 'integer', 'NO'],
      ['owner_id', 'integer', 'NO'],
      ['created_at', 'timestamp with time zone', 'NO'],
      ['updated_at', 'timestamp with time zone', 'NO'],
      ['version', 'integer', 'NO'],
    ],
  );
  const indexes = await sequelize.query<{ indexdef: string }>(
    "SELECT indexdef FROM pg_indexes WHERE tablename = 'products' AND indexname = 'products_owner_id_idx'",
    { type: QueryTypes.SELECT },
  );
  t.regex(indexes[0]?.indexdef ?? '', /\(owner_id\)/);
});

test('migrations → 0003 gives rows stored before it version 1', async (t) => {
  const { url } = await environment().createDatabase('versions');
  const sequelize = new Sequelize(url, { dialect: 'postgres', logging: false });
  t.teardown(() => sequelize.close());
  const migrator = createMigrator(sequelize, MIGRATIONS);
  await migrator.up({ to: '0002-create-outbox-events' });
  await sequelize.query("INSERT INTO products (name, price, quantity, owner_id) VALUES ('old', 1, 0, 1)");

  await migrator.up();

  t.deepEqual(await sequelize.query('SELECT name, version FROM products', { type: QueryTypes.SELECT }), [
    { name: 'old', version: 1 },
  ]);
});

test('migrations → the database refuses rows the API would refuse, and keeps money exact', async (t) => {
  const sequelize = await migratedDatabase('checks');
  t.teardown(() => sequelize.close());
  const insert = (values: { name?: string; price?: string; quantity?: number }) =>
    sequelize.query<{ price: string }>(
      'INSERT INTO products (name, price, quantity, owner_id) VALUES (:name, :price, :quantity, 1) RETURNING price',
      { type: QueryTypes.SELECT, replacements: { name: 'ok', price: '1.00', quantity: 0, ...values } },
    );

  for (const bad of [{ price: '0' }, { price: '-1.00' }, { quantity: -1 }, { name: '   ' }]) {
    await t.throwsAsync(insert(bad), { name: 'SequelizeDatabaseError' }, JSON.stringify(bad));
  }
  const [row] = await sequelize.query<{ sum: string }>(
    'SELECT (0.1::numeric(12,2) + 0.2::numeric(12,2))::text AS sum',
    { type: QueryTypes.SELECT },
  );
  t.is(row?.sum, '0.30');
  t.deepEqual(await insert({ price: '9999999999.99' }), [{ price: '9999999999.99' }]);
});
