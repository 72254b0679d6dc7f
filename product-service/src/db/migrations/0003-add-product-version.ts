import type { QueryInterface } from 'sequelize';
import type { MigrationFn } from 'umzug';

export const up: MigrationFn<QueryInterface> = async ({ context }) => {
  // The version each change increases: the strong ETag of the product and the `version` of its
  // events. Existing rows start at 1. A constant default makes this ALTER a catalogue change
  // (PostgreSQL 11+), with no rewrite of the table.
  await context.sequelize.query(`
    ALTER TABLE products
      ADD COLUMN version integer NOT NULL DEFAULT 1 CONSTRAINT products_version_positive CHECK (version >= 1)
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context }) => {
  await context.sequelize.query('ALTER TABLE products DROP COLUMN version');
};
