import type { QueryInterface } from 'sequelize';
import type { MigrationFn } from 'umzug';

export const up: MigrationFn<QueryInterface> = async ({ context }) => {
  // A revoked token is remembered only until it would have expired anyway.
  await context.sequelize.query(`
    CREATE TABLE revoked_tokens (
      jti        uuid        PRIMARY KEY,
      user_id    integer     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz NOT NULL DEFAULT now()
    )
  `);
  await context.sequelize.query('CREATE INDEX revoked_tokens_expires_at_idx ON revoked_tokens (expires_at)');
};

export const down: MigrationFn<QueryInterface> = async ({ context }) => {
  await context.sequelize.query('DROP TABLE revoked_tokens');
};
