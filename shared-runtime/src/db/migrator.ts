import path from 'node:path';
import type { QueryInterface } from 'sequelize';
import type { Sequelize } from 'sequelize-typescript';
import { SequelizeStorage, Umzug, type MigrationFn } from 'umzug';

import type { Logger } from '../logger';

export interface MigrationModule {
  up: MigrationFn<QueryInterface>;
  down: MigrationFn<QueryInterface>;
}

/** Table where umzug records applied migrations (alembic's `alembic_version`). */
export const MIGRATIONS_TABLE = 'schema_migrations';

/** Where a service's migrations live and how its replicas take turns applying them. */
export interface MigrationSource {
  /** The folder of the compiled migrations (`dist/src/db/migrations`), read at run time. */
  compiledFolder: string;
  /** The folder of their TypeScript sources, where `create` writes a new one. */
  sourceFolder: string;
  /**
   * Arbitrary, fixed key of the advisory lock that serialises migrations across replicas
   * (`user-service:migrations`); each service its own, so two services sharing a server never
   * wait for each other.
   */
  lockKey: string;
}

const TEMPLATE = `import type { QueryInterface } from 'sequelize';
import type { MigrationFn } from 'umzug';

export const up: MigrationFn<QueryInterface> = async ({ context }) => {
  await context.sequelize.query(\`\`);
};

export const down: MigrationFn<QueryInterface> = async ({ context }) => {
  await context.sequelize.query(\`\`);
};
`;

/**
 * Umzug over the service's compiled migrations. Names drop the extension, so a migration is
 * recorded the same whether it ran from `.js` or `.ts`.
 */
export function createMigrator(sequelize: Sequelize, source: MigrationSource, logger?: Logger): Umzug<QueryInterface> {
  return new Umzug<QueryInterface>({
    migrations: {
      glob: ['*.js', { cwd: source.compiledFolder }],
      resolve: ({ name, path: file, context }) => {
        if (!file) throw new Error(`migration ${name} has no file`);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const migration = require(file) as MigrationModule;
        return {
          name: path.basename(name, path.extname(name)),
          up: () => migration.up({ name, path: file, context }),
          down: () => migration.down({ name, path: file, context }),
        };
      },
    },
    context: sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize, tableName: MIGRATIONS_TABLE }),
    logger: logger
      ? {
          info: (event) => {
            logger.info(event, 'migration');
          },
          warn: (event) => {
            logger.warn(event, 'migration');
          },
          error: (event) => {
            logger.error(event, 'migration');
          },
          debug: (event) => {
            logger.debug(event, 'migration');
          },
        }
      : undefined,
    create: {
      folder: source.sourceFolder,
      template: (filepath) => [[filepath.replace(/\.js$/, '.ts'), TEMPLATE]],
    },
  });
}

/**
 * Applies pending migrations while holding a transaction-scoped advisory lock, so replicas
 * starting together migrate one at a time and the later ones find nothing to do.
 */
export async function migrateToLatest(
  sequelize: Sequelize,
  source: MigrationSource,
  logger?: Logger,
): Promise<string[]> {
  return sequelize.transaction(async (transaction) => {
    await sequelize.query('SELECT pg_advisory_xact_lock(hashtext(:key))', {
      replacements: { key: source.lockKey },
      transaction,
    });
    const applied = await createMigrator(sequelize, source, logger).up();
    return applied.map((migration) => migration.name);
  });
}
