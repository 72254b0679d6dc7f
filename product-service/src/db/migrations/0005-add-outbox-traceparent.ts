import type { QueryInterface } from 'sequelize';
import type { MigrationFn } from 'umzug';

export const up: MigrationFn<QueryInterface> = async ({ context }) => {
  // The W3C traceparent of the request that recorded the event: the outbox relay's publish span
  // links back to it, so a trace shows which request an event came from. Null when untraced.
  await context.sequelize.query('ALTER TABLE outbox_events ADD COLUMN traceparent text');
};

export const down: MigrationFn<QueryInterface> = async ({ context }) => {
  await context.sequelize.query('ALTER TABLE outbox_events DROP COLUMN traceparent');
};
