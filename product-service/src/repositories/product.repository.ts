import { EVENT_TYPES, type ProductCreatedEvent } from '@shop/shared-contracts';
import { activeTraceparent } from '@shop/shared-runtime';
import { BaseRepository, isoTimestampSql, plainQuery, type TransactionOptions } from '@shop/shared-runtime/db';

import { ProductModel, type ProductAttributes, type ProductCreationAttributes } from '../models/product.model';

/** A product as the layers above see it. */
export interface ProductRecord {
  id: number;
  name: string;
  description: string | null;
  /** Exact decimal with two places, e.g. `"19.99"`; never a float. */
  price: string;
  quantity: number;
  ownerId: number;
  /** 1 when created, one more at each change: the strong ETag and the events' `version`. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** The fields an update may set, as stored. */
export type ProductFieldChanges = Partial<Pick<ProductAttributes, 'name' | 'description' | 'price' | 'quantity'>>;

/**
 * Which rows a change applies to: the product's owner only, and, when `versions` is given (an
 * `If-Match`), only while its version is one of them — checked in the very statement that
 * changes the row, so no change can slip in between a read and the write.
 */
export interface ChangeGuard {
  ownerId: number;
  versions?: readonly number[];
}

/** What stands in the way of a change that touched no row: nothing (no such row), another owner, or a newer version. */
export interface ChangeTarget {
  ownerId: number;
  version: number;
}

/** Columns of the fields an update may set. */
const UPDATABLE_COLUMNS: Record<keyof ProductFieldChanges, string> = {
  name: 'name',
  description: 'description',
  price: 'price',
  quantity: 'quantity',
};

/** The WHERE of a guarded change; `$1` is the id, `$2` the owner, `$3` the versions (an int[] or null). */
const GUARDED_ROW = 'id = $1 AND owner_id = $2 AND ($3::integer[] IS NULL OR version = ANY($3::integer[]))';

/** The envelope fields of a `product.created` event that the service decides; SQL fills in the rest. */
export type ProductCreatedHeader = Pick<ProductCreatedEvent, 'id' | 'version' | 'request_id'>;

/**
 * SQL building, from the products row `alias`, the jsonb that toProductSnapshot
 * (services/product-snapshot.ts) builds from a record: the same keys, the same values. NUMERIC
 * becomes a jsonb number with the same digits (`19.90`), which JSON.parse reads as the double
 * Number("19.90") gives; timestamps are rendered as toISOString renders them.
 */
function productSnapshotSql(alias: string): string {
  return `jsonb_build_object(
    'id', ${alias}.id,
    'name', ${alias}.name,
    'description', ${alias}.description,
    'price', ${alias}.price,
    'quantity', ${alias}.quantity,
    'owner_id', ${alias}.owner_id,
    'created_at', ${isoTimestampSql(`${alias}.created_at`)},
    'updated_at', ${isoTimestampSql(`${alias}.updated_at`)})`;
}

/**
 * Inserts the product and its `product.created` outbox event in one statement: one round trip
 * on the hot path, atomic without BEGIN/COMMIT (a statement is its own transaction). The
 * event's occurred_at and the product's timestamps are the same `now()`.
 */
function createWithEventSql(recordColumns: string): string {
  return `
  WITH product AS (
    INSERT INTO products (name, description, price, quantity, owner_id)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING *
  ), event AS (
    INSERT INTO outbox_events (id, type, payload, occurred_at, traceparent)
    SELECT $6::uuid,
           $7::text,
           jsonb_build_object(
             'id', $6::uuid,
             'type', $7::text,
             'version', $8::integer,
             'occurred_at', ${isoTimestampSql('now()')},
             'request_id', $9::text,
             'data', jsonb_build_object(
               'product', ${productSnapshotSql('product')},
               'actor_id', product.owner_id,
               'version', product.version)),
           now(),
           $10::text
      FROM product
  )
  SELECT ${recordColumns} FROM product`;
}

export class ProductRepository extends BaseRepository<ProductModel, ProductRecord> {
  /** {@link createWithEventSql} for this model's columns, built on first use. */
  private createSql: string | undefined;

  constructor() {
    super(ProductModel);
  }

  /**
   * Creates a product and records its `product.created` event (the owner is the actor) in one
   * statement. The event's `data.product` is exactly what toProductSnapshot makes of the record
   * returned, i.e. the HTTP response's body.
   */
  async createWithCreatedEvent(
    values: ProductCreationAttributes,
    event: ProductCreatedHeader,
    options: TransactionOptions = {},
  ): Promise<ProductRecord> {
    return this.run(async () => {
      const { rows } = await plainQuery<ProductRecord>(
        this.sequelize,
        (this.createSql ??= createWithEventSql(this.recordColumns)),
        [
          values.name,
          values.description ?? null,
          values.price,
          values.quantity,
          values.ownerId,
          event.id,
          EVENT_TYPES.productCreated,
          event.version,
          event.request_id,
          // As OutboxRepository.add stores it: the relay's publish span links back to this request.
          activeTraceparent() ?? null,
        ],
        options.transaction,
      );
      const [created] = rows;
      if (!created) throw new Error('the product insert returned no row');
      return created;
    });
  }

  /**
   * Sets the given fields of product `id` and increases its version, in one statement, when
   * `guard` lets it; returns the row as changed, or null when it touched none (see {@link targetOf}).
   */
  async updateGuarded(
    id: number,
    changes: ProductFieldChanges,
    guard: ChangeGuard,
    options: TransactionOptions = {},
  ): Promise<ProductRecord | null> {
    const values: unknown[] = [id, guard.ownerId, guard.versions ?? null];
    const assignments = (Object.keys(UPDATABLE_COLUMNS) as (keyof ProductFieldChanges)[])
      .filter((field) => changes[field] !== undefined)
      .map((field) => {
        values.push(changes[field]);
        return `${UPDATABLE_COLUMNS[field]} = $${values.length}`;
      });
    return this.run(async () => {
      const { rows } = await plainQuery<ProductRecord>(
        this.sequelize,
        `UPDATE products SET ${[...assignments, 'version = version + 1', 'updated_at = now()'].join(', ')}
          WHERE ${GUARDED_ROW} RETURNING ${this.recordColumns}`,
        values,
        options.transaction,
      );
      return rows[0] ?? null;
    });
  }

  /**
   * Deletes product `id`, in one statement, when `guard` lets it; returns it as it was just
   * before, or null when it touched no row (see {@link targetOf}).
   */
  async deleteGuarded(id: number, guard: ChangeGuard, options: TransactionOptions = {}): Promise<ProductRecord | null> {
    return this.run(async () => {
      const { rows } = await plainQuery<ProductRecord>(
        this.sequelize,
        `DELETE FROM products WHERE ${GUARDED_ROW} RETURNING ${this.recordColumns}`,
        [id, guard.ownerId, guard.versions ?? null],
        options.transaction,
      );
      return rows[0] ?? null;
    });
  }

  /** The owner and version of product `id` now, to say why a guarded change touched nothing; null when it does not exist. */
  async targetOf(id: number, options: TransactionOptions = {}): Promise<ChangeTarget | null> {
    return this.run(async () => {
      const { rows } = await plainQuery<ChangeTarget>(
        this.sequelize,
        'SELECT owner_id AS "ownerId", version FROM products WHERE id = $1',
        [id],
        options.transaction,
      );
      return rows[0] ?? null;
    });
  }

  protected toRecord(instance: ProductModel): ProductRecord {
    return {
      id: instance.id,
      name: instance.name,
      description: instance.description,
      price: instance.price,
      quantity: instance.quantity,
      ownerId: instance.ownerId,
      version: instance.version,
      createdAt: instance.createdAt,
      updatedAt: instance.updatedAt,
    };
  }

  protected conflictDetail(): string {
    return 'A product with that id already exists.';
  }
}
