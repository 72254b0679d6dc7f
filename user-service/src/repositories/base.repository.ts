import {
  ConnectionError,
  DatabaseError,
  TimeoutError,
  UniqueConstraintError,
  type Attributes,
  type CreationAttributes,
  type WhereOptions,
} from 'sequelize';
import type { Model, ModelCtor } from 'sequelize-typescript';

import { AppError, ConflictError, ServiceUnavailableError } from '../errors';

/**
 * Generic CRUD over one model, returning plain records rather than model instances.
 * Every Sequelize error is translated here, so none leaves `repositories/`.
 */
export abstract class BaseRepository<M extends Model, TRecord> {
  protected constructor(protected readonly model: ModelCtor<M>) {}

  /** Maps a model instance to the plain record the layers above work with. */
  protected abstract toRecord(instance: M): TRecord;

  /** The conflict sentence for a unique violation, e.g. "Username already taken". */
  protected abstract conflictDetail(error: UniqueConstraintError): string;

  async findById(id: number): Promise<TRecord | null> {
    return this.run(async () => {
      const instance = await this.model.findByPk(id);
      return instance ? this.toRecord(instance) : null;
    });
  }

  async findOne(where: WhereOptions<Attributes<M>>): Promise<TRecord | null> {
    return this.run(async () => {
      const instance = await this.model.findOne({ where });
      return instance ? this.toRecord(instance) : null;
    });
  }

  async create(values: CreationAttributes<M>): Promise<TRecord> {
    return this.run(async () => this.toRecord(await this.model.create(values)));
  }

  /** Updates the given fields of one row; null when no row has that id. */
  async update(id: number, values: Partial<Attributes<M>>): Promise<TRecord | null> {
    return this.run(async () => {
      const instance = await this.model.findByPk(id);
      if (!instance) return null;
      await instance.update(values);
      return this.toRecord(instance);
    });
  }

  /** Deletes one row; false when no row has that id. */
  async delete(id: number): Promise<boolean> {
    return this.run(async () => {
      const where = { id } as unknown as WhereOptions<Attributes<M>>;
      return (await this.model.destroy({ where })) > 0;
    });
  }

  async count(): Promise<number> {
    return this.run(() => this.model.count());
  }

  /** Runs a query and translates driver errors into the application's errors. */
  protected async run<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw this.translate(error);
    }
  }

  private translate(error: unknown): Error {
    if (error instanceof AppError) return error;
    if (error instanceof UniqueConstraintError) return new ConflictError(this.conflictDetail(error), error);
    if (
      error instanceof ConnectionError ||
      error instanceof TimeoutError ||
      isPoolTimeout(error) ||
      isConnectionLost(error)
    ) {
      return new ServiceUnavailableError('The database is unavailable; try again shortly.', { cause: error });
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * SQLSTATE classes that say the server could not serve the query, not that the query was wrong:
 * 08 connection exception, 53 insufficient resources (too many connections), 57 operator
 * intervention (`pg_terminate_backend`, shutdown, statement timeout).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57)/;

/** pg's errors when the socket under a query goes away, which carry no SQLSTATE. */
const CONNECTION_LOST = /Connection terminated|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT/;

/**
 * A query failed because its connection was lost mid-flight (the backend terminated, the
 * server restarting): Sequelize reports it as a plain DatabaseError, yet it is an outage.
 */
function isConnectionLost(error: unknown): boolean {
  if (!(error instanceof DatabaseError)) return false;
  const { code, message } = error.parent as Error & { code?: unknown };
  return (typeof code === 'string' && UNAVAILABLE_SQLSTATE.test(code)) || CONNECTION_LOST.test(message);
}

/** Sequelize's pool gives up with a plain error when no connection can be had in time. */
function isPoolTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'SequelizeConnectionAcquireTimeoutError';
}
