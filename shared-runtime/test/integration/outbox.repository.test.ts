import test from 'ava';
import { QueryTypes } from 'sequelize';
import { Sequelize } from 'sequelize-typescript';

import { waitUntil } from '@shop/test-harness';

import { ServiceUnavailableError } from '../../src';
import { migrateToLatest, OutboxRepository, transactionRunner } from '../../src/db';
import { FIXTURE_MIGRATIONS, useTestEnvironment } from '../helpers/environment';
import { newEvent } from '../helpers/events';

const ctx = useTestEnvironment();

/** A database of this test's own, with the outbox table. */
async function migratedDatabase(label: string): Promise<Sequelize> {
  const { sequelize } = await ctx.emptyDatabase(label);
  await migrateToLatest(sequelize, FIXTURE_MIGRATIONS);
  return sequelize;
}

test('OutboxRepository.add → stores the envelope with occurred_at stamped by the recording transaction’s clock', async (t) => {
  const sequelize = await migratedDatabase('outboxadd');
  const outbox = new OutboxRepository({ sequelize });
  const event = newEvent();

  const now = await transactionRunner(sequelize)(async (transaction) => {
    await outbox.add(event, { transaction });
    const [row] = await sequelize.query<{ now: Date }>('SELECT now() AS now', { type: QueryTypes.SELECT, transaction });
    return row!.now;
  });

  const [stored] = await sequelize.query<{ type: string; payload: unknown; occurred_at: Date; attempts: number }>(
    'SELECT type, payload, occurred_at, attempts FROM outbox_events WHERE id = :id',
    { replacements: { id: event.id }, type: QueryTypes.SELECT },
  );
  t.is(stored?.occurred_at.toISOString(), now.toISOString());
  t.deepEqual(stored?.payload, { ...event, occurred_at: now.toISOString() });
  t.is(stored?.type, event.type);
  t.is(stored?.attempts, 0);
});

test('OutboxRepository.claimBatch → two transactions claiming at once get disjoint rows, without waiting for each other', async (t) => {
  const sequelize = await migratedDatabase('outboxclaim');
  const outbox = new OutboxRepository({ sequelize });
  const withTransaction = transactionRunner(sequelize);
  const events = Array.from({ length: 8 }, () => newEvent());
  for (const event of events) await outbox.add(event);

  let releaseFirst: () => void = () => undefined;
  const firstHolds = new Promise<void>((resolve) => {
    releaseFirst = resolve;
  });
  let firstClaimed: string[] = [];
  const first = withTransaction(async (transaction) => {
    firstClaimed = (await outbox.claimBatch(5, transaction)).map((row) => row.id);
    await firstHolds;
  });
  await waitUntil(() => firstClaimed.length > 0, 'the first claim', { intervalMs: 5 });

  const secondClaimed = await withTransaction(async (transaction) =>
    (await outbox.claimBatch(5, transaction)).map((row) => row.id),
  );
  releaseFirst();
  await first;

  t.is(firstClaimed.length, 5);
  t.is(secondClaimed.length, 3, 'only the rows the first transaction does not hold');
  t.deepEqual([...firstClaimed, ...secondClaimed].sort(), events.map((event) => event.id).sort());
});

test('OutboxRepository.backlog → counts the waiting events (not published, not parked) and the oldest one’s age', async (t) => {
  const sequelize = await migratedDatabase('outboxbacklog');
  const outbox = new OutboxRepository({ sequelize });
  const withTransaction = transactionRunner(sequelize);
  t.deepEqual(await outbox.backlog(), { events: 0, oldestAgeSeconds: 0 });
  const [published, parked, waiting, alsoWaiting] = [newEvent(), newEvent(), newEvent(), newEvent()];
  for (const event of [published, parked, waiting, alsoWaiting]) await outbox.add(event);
  await withTransaction((transaction) => outbox.markPublished([published.id], transaction));
  await outbox.markFailed(parked.id, 'fails its schema');
  const agedAt = performance.now();
  await sequelize.query("UPDATE outbox_events SET occurred_at = now() - interval '90 seconds' WHERE id = :id", {
    replacements: { id: waiting.id },
  });

  const backlog = await outbox.backlog();
  // 90 s, plus however long the two statements took on this machine (and a second of rounding).
  const sinceAgedSeconds = (performance.now() - agedAt) / 1000;

  t.is(backlog.events, 2);
  t.true(
    backlog.oldestAgeSeconds >= 90 && backlog.oldestAgeSeconds <= 90 + sinceAgedSeconds + 1,
    `${backlog.oldestAgeSeconds} s, ${sinceAgedSeconds.toFixed(3)} s after the update`,
  );
});

test('OutboxRepository.purgePublished → deletes events published before the cutoff; waiting, parked and recent ones stay', async (t) => {
  const sequelize = await migratedDatabase('outboxpurge');
  const outbox = new OutboxRepository({ sequelize });
  const withTransaction = transactionRunner(sequelize);
  const [old, recent, parked, waiting] = [newEvent(), newEvent(), newEvent(), newEvent()];
  for (const event of [old, recent, parked, waiting]) await outbox.add(event);
  await withTransaction((transaction) => outbox.markPublished([old.id, recent.id], transaction));
  await outbox.markFailed(parked.id, 'fails its schema');
  await sequelize.query("UPDATE outbox_events SET published_at = now() - interval '25 hours' WHERE id = :id", {
    replacements: { id: old.id },
  });

  const purged = await outbox.purgePublished(new Date(Date.now() - 24 * 60 * 60 * 1000));

  t.is(purged, 1);
  const left = await sequelize.query<{ id: string }>('SELECT id FROM outbox_events', { type: QueryTypes.SELECT });
  t.deepEqual(left.map((row) => row.id).sort(), [recent.id, parked.id, waiting.id].sort());
});

test('OutboxRepository: a database that cannot be reached → ServiceUnavailableError (503), never a driver error', async (t) => {
  const sequelize = new Sequelize('postgres://postgres@127.0.0.1:1/nowhere', {
    dialect: 'postgres',
    logging: false,
    pool: { acquire: 2000 },
  });
  ctx.closeLater(() => sequelize.close());
  const outbox = new OutboxRepository({ sequelize });

  await t.throwsAsync(outbox.backlog(), { instanceOf: ServiceUnavailableError });
  await t.throwsAsync(
    transactionRunner(sequelize)(() => Promise.resolve()),
    { instanceOf: ServiceUnavailableError },
  );
});
