import type { Attributes, CreationAttributes, Sequelize, WhereOptions } from 'sequelize';
import type { Model, ModelCtor } from 'sequelize-typescript';

import { translateDatabaseErrors } from './database-errors';
import type { TransactionOptions } from './transaction';

/**
 * Generic CRUD over one model, returning plain records rather than model instances.
 * Every Sequelize error is translated here, so none leaves `repositories/`. Each method runs
 * inside the caller's transaction when one is given, on its own otherwise.
 */
export abstract class BaseRepository<M extends Model, TRecord> {
  protected constructor(protected readonly model: ModelCtor<M>) {}

  /** Maps a model instance to the plain record the layers above work with. */
  protected abstract toRecord(instance: M): TRecord;

  /** The conflict sentence for a unique violation, e.g. "Username already taken". */
  protected abstract conflictDetail(): string;

  async findById(id: number, options: TransactionOptions = {}): Promise<TRecord | null> {
    return this.run(async () => {
      const instance = await this.model.findByPk(id, { transaction: options.transaction });
      return instance ? this.toRecord(instance) : null;
    });
  }

  async findOne(where: WhereOptions<Attributes<M>>): Promise<TRecord | null> {
    return this.run(async () => {
      const instance = await this.model.findOne({ where });
      return instance ? this.toRecord(instance) : null;
    });
  }

  async create(values: CreationAttributes<M>, options: TransactionOptions = {}): Promise<TRecord> {
    return this.run(async () => this.toRecord(await this.model.create(values, { transaction: options.transaction })));
  }

  /** Updates the given fields of one row; null when no row has that id. */
  async update(id: number, values: Partial<Attributes<M>>, options: TransactionOptions = {}): Promise<TRecord | null> {
    return this.run(async () => {
      const { transaction } = options;
      const instance = await this.model.findByPk(id, { transaction });
      if (!instance) return null;
      await instance.update(values, { transaction });
      return this.toRecord(instance);
    });
  }

  /** Deletes one row; false when no row has that id. */
  async delete(id: number, options: TransactionOptions = {}): Promise<boolean> {
    return this.run(async () => {
      const where = { id } as unknown as WhereOptions<Attributes<M>>;
      return (await this.model.destroy({ where, transaction: options.transaction })) > 0;
    });
  }

  async count(): Promise<number> {
    return this.run(() => this.model.count());
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
}
