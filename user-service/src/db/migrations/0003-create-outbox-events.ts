import type { QueryInterface } from 'sequelize';
import type { MigrationFn } from 'umzug';

export const up: MigrationFn<QueryInterface> = async ({ context }) => {
  // The transactional outbox: an event is written in the transaction of the change it describes
  // and published from here once committed. `id` is the event's id (and the AMQP messageId);
  // `payload` is the whole envelope exactly as published. A row that can never be published
  // (it fails its schema) is parked with `failed_at` instead of being retried forever.
  await context.sequelize.query(`
    CREATE TABLE outbox_events (
      id           uuid        PRIMARY KEY,
      type         text        NOT NULL,
      payload      jsonb       NOT NULL,
      occurred_at  timestamptz NOT NULL,
      published_at timestamptz,
      attempts     integer     NOT NULL DEFAULT 0,
      last_error   text,
      failed_at    timestamptz
    )
  `);
  // The relay's claim (oldest waiting first) reads only this index, which holds only the rows
  // still waiting: it stays small however many published rows the table keeps.
  await context.sequelize.query(`
    CREATE INDEX outbox_events_unpublished_idx ON outbox_events (occurred_at, id)
     WHERE published_at IS NULL AND failed_at IS NULL
  `);
  // The periodic purge deletes published rows by age without scanning the table.
  await context.sequelize.query(`
    CREATE INDEX outbox_events_published_at_idx ON outbox_events (published_at)
     WHERE published_at IS NOT NULL
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context }) => {
  await context.sequelize.query('DROP TABLE outbox_events');
};
