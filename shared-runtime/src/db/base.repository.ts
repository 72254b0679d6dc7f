import { type Attributes, type CreationAttributes, type Sequelize, type WhereOptions } from 'sequelize';
import type { Model, ModelCtor } from 'sequelize-typescript';

import { translateDatabaseErrors } from './database-errors';
import { plainQuery } from './plain-sql';
import type { TransactionOptions } from './transaction';

/** One page of records and the total number of rows they were taken from. */
export interface Page<TRecord> {
  items: TRecord[];
  total: number;
}

/**
 * Generic CRUD over one model with an integer `id` primary key, returning plain records rather
 * than model instances. Reads are plain SQL (see {@link recordColumns}); writes go through the
 * model, inside the caller's transaction when one is given, on their own otherwise. Every
 * driver error is translated here, so none leaves a service's `repositories/`. A table keyed
 * otherwise (by a token's `jti`) does not extend it: it would inherit methods that cannot work.
 */
export abstract class BaseRepository<M extends Model, TRecord> {
  protected constructor(protected readonly model: ModelCtor<M>) {}

  /**
   * Maps a row to the plain record the layers above work with. The reads hand it plain rows
   * keyed by attribute name (see {@link recordColumns}); create and update, model instances.
   */
  protected abstract toRecord(instance: M): TRecord;

  /** The conflict sentence for a unique violation, e.g. "That name is already taken". */
  protected abstract conflictDetail(): string;

  async findById(id: number, options: TransactionOptions = {}): Promise<TRecord | null> {
    return this.run(async () => {
      const { rows } = await plainQuery<M>(
        this.sequelize,
        `SELECT ${this.recordColumns} FROM ${this.table} WHERE id = $1`,
        [id],
        options.transaction,
      );
      const [row] = rows;
      return row ? this.toRecord(row) : null;
    });
  }

  /**
   * Rows ordered by id, `offset` rows skipped, at most `limit` returned, with the table's row
   * count: two statements side by side.
   */
  async findPage(options: { offset: number; limit: number }): Promise<Page<TRecord>> {
    return this.run(async () => {
      const [page, count] = await Promise.all([
        plainQuery<M>(
          this.sequelize,
          `SELECT ${this.recordColumns} FROM ${this.table} ORDER BY id LIMIT $1 OFFSET $2`,
          [options.limit, options.offset],
        ),
        plainQuery<{ total: number }>(this.sequelize, `SELECT count(*)::integer AS total FROM ${this.table}`),
      ]);
      return { items: page.rows.map((row) => this.toRecord(row)), total: count.rows[0]?.total ?? 0 };
    });
  }

  async create(values: CreationAttributes<M>, options: TransactionOptions = {}): Promise<TRecord> {
    return this.run(async () => this.toRecord(await this.model.create(values, { transaction: options.transaction })));
  }

  /** Updates the given fields of one row in one statement; null when no row has that id. */
  async update(id: number, values: Partial<Attributes<M>>, options: TransactionOptions = {}): Promise<TRecord | null> {
    return this.run(async () => {
      const [, rows] = await this.model.update(values, {
        where: this.byId(id),
        returning: true,
        transaction: options.transaction,
      });
      const [updated] = rows;
      return updated ? this.toRecord(updated) : null;
    });
  }

  /** Deletes one row; false when no row has that id. */
  async delete(id: number, options: TransactionOptions = {}): Promise<boolean> {
    return this.run(
      async () => (await this.model.destroy({ where: this.byId(id), transaction: options.transaction })) > 0,
    );
  }

  /**
   * The model's columns named as its attributes (`owner_id AS "ownerId"`), for plain SQL whose
   * rows {@link toRecord} reads. The reads by id and by page are plain SQL run by plainQuery:
   * Sequelize's finders spent more CPU preparing their options (scopes, attribute lists, lodash
   * clones) than the query cost, on the catalogue's hot paths (docs/benchmarks.md).
   */
  protected get recordColumns(): string {
    this.columns ??= Object.entries(this.model.getAttributes())
      .map(([attribute, definition]) => `"${definition.field ?? attribute}" AS "${attribute}"`)
      .join(', ');
    return this.columns;
  }

  private columns: string | undefined;

  /** The model's table, quoted for SQL. */
  protected get table(): string {
    return `"${this.model.tableName}"`;
  }

  /** The Sequelize instance the model is registered with, for the queries a model cannot express. */
  protected get sequelize(): Sequelize {
    const { sequelize } = this.model;
    if (!sequelize) throw new Error(`${this.model.name} is not registered with a Sequelize instance`);
    return sequelize;
  }

  /** Runs a query and translates driver errors into the application's errors. */
  protected async run<T>(query: () => Promise<T>): Promise<T> {
    return translateDatabaseErrors(query, () => this.conflictDetail());
  }

  private byId(id: number): WhereOptions<Attributes<M>> {
    return { id } as unknown as WhereOptions<Attributes<M>>;
  }
}
