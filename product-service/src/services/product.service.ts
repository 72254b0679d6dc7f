import { EVENT_TYPES } from '@shop/shared-contracts';
import {
  AppError,
  type ChangeContext,
  type EventNotifier,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  retryAfterHeader,
} from '@shop/shared-runtime';
import type { OutboxRepository, Page, Transaction, TransactionRunner } from '@shop/shared-runtime/db';

import type { IdempotencyKeyRepository, StoredResponse } from '../repositories/idempotency-key.repository';
import type { ProductRecord, ProductRepository } from '../repositories/product.repository';
import { eventEnvelope, productChangedEvent } from './product-events';
import { productEtag } from './product-snapshot';

/** What a client gives to create a product; `price` is an exact two-place decimal string. */
export interface NewProduct {
  name: string;
  description: string | null;
  price: string;
  quantity: number;
}

/** The fields an update sets; absent fields keep their value. */
export type ProductChanges = Partial<NewProduct>;

/**
 * The versions a change may apply to (from `If-Match`): it is made only while the product's
 * version is one of them. Absent: any version (last write wins). Empty: none can match.
 */
export type ExpectedVersions = readonly number[] | undefined;

/** A create sent with an `Idempotency-Key`, and how to answer it. */
export interface IdempotentCreate {
  /** The client's key, unique per user. */
  key: string;
  /** SHA-256 of the canonical JSON of the validated body: a repeat must send the same. */
  fingerprint: string;
  /** The answer to store and send for the product created: a repeat gets exactly this. */
  respond(product: ProductRecord): StoredResponse;
}

/** What a create with a key answers: the stored response, and whether it is a replay. */
export interface IdempotentOutcome {
  response: StoredResponse;
  replayed: boolean;
}

/** `Retry-After` of a 409 for a key in flight, in s: a create holds its key for milliseconds. */
export const KEY_IN_USE_RETRY_AFTER_SECONDS = 1;

export interface ProductServiceDeps {
  products: ProductRepository;
  idempotencyKeys: IdempotencyKeyRepository;
  /** Where `product.updated` and `product.deleted` are recorded, in the change's transaction. */
  outbox: OutboxRepository;
  withTransaction: TransactionRunner;
  /** Told after a commit that recorded events, so they go out at once. */
  events: EventNotifier;
}

/**
 * Products and their events: every write stores the change and its `product.*` event together
 * (both or neither), and only a change that happened records an event — a 4xx records none.
 */
export class ProductService {
  private readonly products: ProductRepository;
  private readonly idempotencyKeys: IdempotencyKeyRepository;
  private readonly outbox: OutboxRepository;
  private readonly withTransaction: TransactionRunner;
  private readonly events: EventNotifier;

  constructor(deps: ProductServiceDeps) {
    this.products = deps.products;
    this.idempotencyKeys = deps.idempotencyKeys;
    this.outbox = deps.outbox;
    this.withTransaction = deps.withTransaction;
    this.events = deps.events;
  }

  /** Products ordered by id, with the total count for paging. */
  async list(page: { skip: number; limit: number }): Promise<Page<ProductRecord>> {
    return this.products.findPage({ offset: page.skip, limit: page.limit });
  }

  async get(id: number): Promise<ProductRecord> {
    const product = await this.products.findById(id);
    if (!product) throw notFound(id);
    return product;
  }

  /** Creates a product owned by `ownerId`, the authenticated caller, with its `product.created` event. */
  async create(input: NewProduct, ownerId: number, context: ChangeContext): Promise<ProductRecord> {
    const product = await this.products.createWithCreatedEvent({ ...input, ownerId }, eventEnvelope(context));
    this.events.notify();
    return product;
  }

  /**
   * Creates a product at most once per user and key, across every replica sharing the database:
   * the first request creates and stores its answer with the product and its event (one
   * transaction); a repeat with the same body gets that answer back and writes nothing; the
   * same key with another body is a 422; a repeat while the first is still in flight, a 409 with
   * `Retry-After`. A create that fails stores nothing, so its retry runs afresh.
   */
  async createOnce(
    input: NewProduct,
    ownerId: number,
    context: ChangeContext,
    request: IdempotentCreate,
  ): Promise<IdempotentOutcome> {
    const outcome = await this.withTransaction(async (transaction): Promise<IdempotentOutcome> => {
      if (!(await this.idempotencyKeys.tryLock(ownerId, request.key, transaction))) throw keyInUse();
      const stored = await this.idempotencyKeys.findLive(ownerId, request.key, transaction);
      if (stored) {
        if (stored.fingerprint !== request.fingerprint) throw keyReused();
        return { response: stored.response, replayed: true };
      }
      const product = await this.products.createWithCreatedEvent({ ...input, ownerId }, eventEnvelope(context), {
        transaction,
      });
      const response = request.respond(product);
      const saved = await this.idempotencyKeys.save(
        ownerId,
        request.key,
        { fingerprint: request.fingerprint, response },
        transaction,
      );
      // Only if a live row appeared despite the lock (it cannot while every writer takes it): undo the create.
      if (!saved) throw keyInUse();
      return { response, replayed: false };
    });
    if (!outcome.replayed) this.events.notify();
    return outcome;
  }

  /**
   * Changes only the given fields, when `expected` (an `If-Match`) allows. 404, then 403, then
   * 412, as RFC 9110 §13.2.2 orders them: a precondition is judged only on a change that would
   * otherwise succeed.
   */
  async update(
    id: number,
    changes: ProductChanges,
    actorId: number,
    context: ChangeContext,
    expected?: ExpectedVersions,
  ): Promise<ProductRecord> {
    const updated = await this.withTransaction(async (transaction) => {
      const guard = { ownerId: actorId, ...(expected ? { versions: expected } : {}) };
      const product = await this.products.updateGuarded(id, changes, guard, { transaction });
      if (!product) throw await this.whyUnchanged(id, actorId, transaction);
      await this.outbox.add(productChangedEvent(EVENT_TYPES.productUpdated, product, actorId, context), {
        transaction,
      });
      return product;
    });
    this.events.notify();
    return updated;
  }

  /** Deletes a product, when `expected` allows; its `product.deleted` event carries it as it was just before. */
  async delete(id: number, actorId: number, context: ChangeContext, expected?: ExpectedVersions): Promise<void> {
    await this.withTransaction(async (transaction) => {
      const guard = { ownerId: actorId, ...(expected ? { versions: expected } : {}) };
      const deleted = await this.products.deleteGuarded(id, guard, { transaction });
      if (!deleted) throw await this.whyUnchanged(id, actorId, transaction);
      await this.outbox.add(productChangedEvent(EVENT_TYPES.productDeleted, deleted, actorId, context), {
        transaction,
      });
    });
    this.events.notify();
  }

  /** Why a guarded change touched no row: no such product, another owner's, or a version `If-Match` did not name. */
  private async whyUnchanged(id: number, actorId: number, transaction: Transaction): Promise<AppError> {
    const target = await this.products.targetOf(id, { transaction });
    if (!target) return notFound(id);
    if (target.ownerId !== actorId) return new ForbiddenError('Only the owner of this product may change it.');
    return new PreconditionFailedError(
      `Product ${id} is at version ${target.version}, which If-Match does not name; read it again and retry.`,
      productEtag(target.version),
    );
  }
}

function notFound(id: number): NotFoundError {
  return new NotFoundError(`Product ${id} does not exist.`);
}

function keyInUse(): AppError {
  return new AppError(
    'idempotency_key_in_use',
    'A request with this Idempotency-Key is still being processed; retry after a moment.',
    { headers: retryAfterHeader(KEY_IN_USE_RETRY_AFTER_SECONDS) },
  );
}

function keyReused(): AppError {
  return new AppError(
    'idempotency_key_reused',
    'This Idempotency-Key was already used with a different request body; use a new key for a new request.',
  );
}
