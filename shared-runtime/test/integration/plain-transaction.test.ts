import test from 'ava';
import { QueryTypes } from 'sequelize';
import type { Sequelize } from 'sequelize-typescript';

import { ConflictError, ServiceUnavailableError } from '../../src';
import { plainQuery, plainTransactionRunner, translateDatabaseErrors, type PlainTransaction } from '../../src/db';
import { useTestEnvironment } from '../helpers/environment';

const ctx = useTestEnvironment();

/**
 * A database of this test's own with an empty `notes` table, through a pool of 2 connections:
 * small enough that a dead connection handed out again would be noticed.
 */
async function notesDatabase(label: string): Promise<Sequelize> {
  const { sequelize } = await ctx.emptyDatabase(label, { poolMax: 2 });
  await sequelize.query('CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)');
  return sequelize;
}

async function bodies(db: Sequelize): Promise<string[]> {
  const rows = await db.query<{ body: string }>('SELECT body FROM notes ORDER BY id', { type: QueryTypes.SELECT });
  return rows.map((row) => row.body);
}

test('plainTransactionRunner → commits the work’s statements together and returns its result', async (t) => {
  const db = await notesDatabase('plaintxcommit');
  const withTransaction = plainTransactionRunner(db);

  const result = await withTransaction(async (transaction) => {
    await plainQuery(db, 'INSERT INTO notes (body) VALUES ($1)', ['one'], transaction);
    // Not visible outside the transaction before it commits.
    t.deepEqual(await bodies(db), []);
    await plainQuery(db, 'INSERT INTO notes (body) VALUES ($1)', ['two'], transaction);
    return 'done';
  });

  t.is(result, 'done');
  t.deepEqual(await bodies(db), ['one', 'two']);
});

test('plainTransactionRunner → rolls back when the work throws, and rethrows its error', async (t) => {
  const db = await notesDatabase('plaintxrollback');
  await plainQuery(db, 'INSERT INTO notes (body) VALUES ($1)', ['before']);
  const failure = new Error('work failed');

  const error = await t.throwsAsync(
    plainTransactionRunner(db)(async (transaction) => {
      await plainQuery(db, 'INSERT INTO notes (body) VALUES ($1)', ['never'], transaction);
      throw failure;
    }),
  );

  t.is(error, failure);
  t.deepEqual(await bodies(db), ['before']);
});

test('plainTransactionRunner → a statement that fails inside rolls the whole transaction back', async (t) => {
  const db = await notesDatabase('plaintxfails');
  await plainQuery(db, 'INSERT INTO notes (body) VALUES ($1)', ['before']);

  await t.throwsAsync(
    plainTransactionRunner(db)(async (transaction) => {
      await plainQuery(db, 'INSERT INTO notes (body) VALUES ($1)', ['first'], transaction);
      await plainQuery(db, 'INSERT INTO notes (body) VALUES (NULL)', [], transaction);
    }),
  );

  t.deepEqual(await bodies(db), ['before']);
});

test('plainQuery → refuses to join a transaction that has ended', async (t) => {
  const db = await notesDatabase('plaintxended');
  let ended: PlainTransaction | undefined;
  await plainTransactionRunner(db)(async (transaction) => {
    ended = transaction;
    await Promise.resolve();
  });
  if (!ended) throw new Error('the work did not run');
  const transaction = ended;

  t.is(transaction.finished, 'commit');
  await t.throwsAsync(plainQuery(db, 'SELECT 1', [], transaction), { message: /already ended/ });
});

test('plainTransactionRunner → its connection killed mid-work → 503, and the next transaction gets a working connection', async (t) => {
  const db = await notesDatabase('plaintxkilled');

  const error = await t.throwsAsync(
    plainTransactionRunner(db)(async (transaction) => {
      const { rows } = await plainQuery<{ pid: number }>(db, 'SELECT pg_backend_pid() AS pid', [], transaction);
      await ctx.env.adminQuery('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      await plainQuery(db, 'SELECT 1', [], transaction);
    }),
  );

  t.true(error instanceof ServiceUnavailableError, String(error));
  // With a pool of 2, a dead connection handed out again would fail one of these.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const value = await plainTransactionRunner(db)(async (transaction) => {
      const { rows } = await plainQuery<{ one: number }>(db, 'SELECT 1 AS one', [], transaction);
      return rows[0]?.one;
    });
    t.is(value, 1);
  }
});

test('translateDatabaseErrors: a unique violation from plainQuery → ConflictError with the repository’s detail, as from Sequelize', async (t) => {
  const db = await notesDatabase('plaintxunique');
  const [row] = await db.query<{ id: number }>("INSERT INTO notes (body) VALUES ('unique') RETURNING id", {
    type: QueryTypes.SELECT,
  });

  const error = await t.throwsAsync(
    translateDatabaseErrors(
      () => plainQuery(db, 'INSERT INTO notes (id, body) VALUES ($1, $2)', [row?.id, 'again']),
      () => 'That note already exists.',
    ),
  );

  t.true(error instanceof ConflictError, String(error));
  t.is(error.message, 'That note already exists.');
  // Without a detail it stays what it is: a bug, not a 409.
  const bug = await t.throwsAsync(plainQuery(db, 'INSERT INTO notes (id, body) VALUES ($1, $2)', [row?.id, 'again']));
  t.false(bug instanceof ConflictError);
});
