import type { QueryInterface } from 'sequelize';
import type { MigrationFn } from 'umzug';

export const up: MigrationFn<QueryInterface> = async ({ context }) => {
  // One row per (user, Idempotency-Key) whose create committed: written in the transaction of
  // the product and its event, so a row exists if and only if the create happened. A create in
  // flight holds a transaction-scoped advisory lock instead of a row (see
  // IdempotencyKeyRepository), so a crash leaves nothing behind to block the key. `fingerprint`
  // is the SHA-256 of the canonical JSON of the validated body; `response_*` is what the first
  // request was answered, replayed to every repeat within the retention.
  await context.sequelize.query(`
    CREATE TABLE idempotency_keys (
      user_id          integer      NOT NULL,
      key              varchar(255) NOT NULL,
      fingerprint      char(64)     NOT NULL,
      response_status  smallint     NOT NULL,
      response_headers jsonb        NOT NULL,
      response_body    jsonb        NOT NULL,
      created_at       timestamptz  NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, key)
    )
  `);
  // The periodic purge deletes keys past their retention by age without scanning the table.
  await context.sequelize.query('CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at)');
};

export const down: MigrationFn<QueryInterface> = async ({ context }) => {
  await context.sequelize.query('DROP TABLE idempotency_keys');
};
