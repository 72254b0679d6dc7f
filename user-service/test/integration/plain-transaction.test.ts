import test from 'ava';
import { QueryTypes } from 'sequelize';
import { Sequelize } from 'sequelize-typescript';

import { TestEnvironment } from '@shop/test-harness';
import { ConflictError, ServiceUnavailableError } from '@shop/shared-runtime';
import { plainQuery, type PlainTransaction, plainTransactionRunner, translateDatabaseErrors } from '@shop/shared-runtime/db';

let env: TestEnvironment | undefined;
let sequelize: Sequelize | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
  const { url } = await env.createDatabase('plaintx');
  sequelize = new Sequelize(url, { dialect: 'postgres', logging: false, pool: { max: 2 } });
  await sequelize.query('CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)');
});

test.after.always(async () => {
  await sequelize?.close();
  await env?.close();
});

function db(): Sequelize {
  if (!sequelize) throw new Error('the database is not ready');
  return sequelize;
}

async function bodies(): Promise<string[]> {
  const rows = await db().query<{ body: string }>('SELECT body FROM notes ORDER BY id', { type: QueryTypes.SELECT });
  return rows.map((row) => row.body);
}

test.serial('plainTransactionRunner → commits the work’s statements together and returns its result', async (t) => {
  const withTransaction = plainTransactionRunner(db());
  const result = await withTransaction(async (transaction) => {
    await plainQuery(db(), 'INSERT INTO notes (body) VALUES ($1)', ['one'], transaction);
    // Not visible outside the transaction before it commits.
    t.deepEqual(await bodies(), []);
    await plainQuery(db(), 'INSERT INTO notes (body) VALUES ($1)', ['two'], transaction);
    return 'done';
  });
  t.is(result, 'done');
  t.deepEqual(await bodies(), ['one', 'two']);
});

test.serial('plainTransactionRunner → rolls back when the work throws, and rethrows its error', async (t) => {
  const before = await bodies();
  const failure = new Error('work failed');
  const error = await t.throwsAsync(
    plainTransactionRunner(db())(async (transaction) => {
      await plainQuery(db(), 'INSERT INTO notes (body) VALUES ($1)', ['never'], transaction);
      throw failure;
    }),
  );
  t.is(error, failure);
  t.deepEqual(await bodies(), before);
});

test.serial('plainTransactionRunner → a statement that fails inside rolls the whole transaction back', async (t) => {
  const before = await bodies();
  await t.throwsAsync(
    plainTransactionRunner(db())(async (transaction) => {
      await plainQuery(db(), 'INSERT INTO notes (body) VALUES ($1)', ['first'], transaction);
      await plainQuery(db(), 'INSERT INTO notes (body) VALUES (NULL)', [], transaction);
    }),
  );
  t.deepEqual(await bodies(), before);
});

test.serial('plainQuery → refuses to join a transaction that has ended', async (t) => {
  let ended: PlainTransaction | undefined;
  await plainTransactionRunner(db())(async (transaction) => {
    ended = transaction;
    await Promise.resolve();
  });
  if (!ended) throw new Error('the work did not run');
  const transaction = ended;
  t.is(transaction.finished, 'commit');
  await t.throwsAsync(plainQuery(db(), 'SELECT 1', [], transaction), { message: /already ended/ });
});

test.serial(
  'plainTransactionRunner → its connection killed mid-work → 503, and the next transaction gets a working connection',
  async (t) => {
    const error = await t.throwsAsync(
      plainTransactionRunner(db())(async (transaction) => {
        const { rows } = await plainQuery<{ pid: number }>(db(), 'SELECT pg_backend_pid() AS pid', [], transaction);
        await env?.adminQuery('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
        await plainQuery(db(), 'SELECT 1', [], transaction);
      }),
    );
    t.true(error instanceof ServiceUnavailableError, String(error));
    // With a pool of 2, a dead connection handed out again would fail one of these.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const value = await plainTransactionRunner(db())(async (transaction) => {
        const { rows } = await plainQuery<{ one: number }>(db(), 'SELECT 1 AS one', [], transaction);
        return rows[0]?.one;
      });
      t.is(value, 1);
    }
  },
);

test.serial(
  'a unique violation from plainQuery → ConflictError with the repository’s detail, as from Sequelize',
  async (t) => {
    const [row] = await db().query<{ id: number }>("INSERT INTO notes (body) VALUES ('unique') RETURNING id", {
      type: QueryTypes.SELECT,
    });
    const error = await t.throwsAsync(
      translateDatabaseErrors(
        () => plainQuery(db(), 'INSERT INTO notes (id, body) VALUES ($1, $2)', [row?.id, 'again']),
        () => 'That note already exists.',
      ),
    );
    t.true(error instanceof ConflictError, String(error));
    t.is(error.message, 'That note already exists.');
    // Without a detail it stays what it is: a bug, not a 409.
    const bug = await t.throwsAsync(
      plainQuery(db(), 'INSERT INTO notes (id, body) VALUES ($1, $2)', [row?.id, 'again']),
    );
    t.false(bug instanceof ConflictError);
  },
);
