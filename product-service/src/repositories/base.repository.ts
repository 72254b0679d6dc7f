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

/** One page of records and the total number of rows they were taken from. */
export interface Page<TRecord> {
  items: TRecord[];
  total: number;
}

/**
 * Generic CRUD over one model with an integer `id` primary key, returning plain records rather
 * than model instances. Every Sequelize error is translated here, so none leaves `repositories/`.
 */
export abstract class BaseRepository<M extends Model, TRecord> {
  protected constructor(protected readonly model: ModelCtor<M>) {}

  /** Maps a model instance to the plain record the layers above work with. */
  /**
   * Maps a row to the plain record the layers above work with. Reads pass `raw: true`, so it
   * gets the attribute values only, not a model instance: building and reading back 100
   * instances per page cost a quarter of the list's CPU (measured in the bench).
   */
  protected abstract toRecord(instance: M): TRecord;

  /** The conflict sentence for a unique violation, e.g. "That name is already taken". */
  protected abstract conflictDetail(error: UniqueConstraintError): string;

  async findById(id: number): Promise<TRecord | null> {
    return this.run(async () => {
      const instance = await this.model.findByPk(id, { raw: true });
      return instance ? this.toRecord(instance) : null;
    });
  }

  async findOne(where: WhereOptions<Attributes<M>>): Promise<TRecord | null> {
    return this.run(async () => {
      const instance = await this.model.findOne({ where, raw: true });
      return instance ? this.toRecord(instance) : null;
    });
  }

  /** Rows ordered by id, `offset` rows skipped, at most `limit` returned, with the table's row count. */
  async findPage(options: { offset: number; limit: number }): Promise<Page<TRecord>> {
    return this.run(async () => {
      const { rows, count } = await this.model.findAndCountAll({
        order: [['id', 'ASC']],
        offset: options.offset,
        limit: options.limit,
        raw: true,
      });
      return { items: rows.map((row) => this.toRecord(row)), total: count };
    });
  }

  async create(values: CreationAttributes<M>): Promise<TRecord> {
    return this.run(async () => this.toRecord(await this.model.create(values)));
  }

  /** Updates the given fields of one row in one statement; null when no row has that id. */
  async update(id: number, values: Partial<Attributes<M>>): Promise<TRecord | null> {
    return this.run(async () => {
      const [, rows] = await this.model.update(values, { where: this.byId(id), returning: true });
      const [updated] = rows;
      return updated ? this.toRecord(updated) : null;
    });
  }

  /** Deletes one row; false when no row has that id. */
  async delete(id: number): Promise<boolean> {
    return this.run(async () => (await this.model.destroy({ where: this.byId(id) })) > 0);
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

  private byId(id: number): WhereOptions<Attributes<M>> {
    return { id } as unknown as WhereOptions<Attributes<M>>;
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
