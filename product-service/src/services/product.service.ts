import { EVENT_TYPES } from '@shop/shared-contracts';
import { type ChangeContext, type EventNotifier, ForbiddenError, NotFoundError } from '@shop/shared-runtime';
import type { OutboxRepository, Page, Transaction, TransactionRunner } from '@shop/shared-runtime/db';

import type { ProductRecord, ProductRepository } from '../repositories/product.repository';
import { eventEnvelope, productChangedEvent } from './product-events';

/** What a client gives to create a product; `price` is an exact two-place decimal string. */
export interface NewProduct {
  name: string;
  description: string | null;
  price: string;
  quantity: number;
}

/** The fields an update sets; absent fields keep their value. */
export type ProductChanges = Partial<NewProduct>;

export interface ProductServiceDeps {
  products: ProductRepository;
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
  private readonly outbox: OutboxRepository;
  private readonly withTransaction: TransactionRunner;
  private readonly events: EventNotifier;

  constructor(deps: ProductServiceDeps) {
    this.products = deps.products;
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

  /** Changes only the given fields. 404 before 403: a missing product is reported as such to anyone. */
  async update(id: number, changes: ProductChanges, actorId: number, context: ChangeContext): Promise<ProductRecord> {
    const updated = await this.withTransaction(async (transaction) => {
      await this.ownedProduct(id, actorId, transaction);
      const product = await this.products.update(id, changes, { transaction });
      if (!product) throw notFound(id);
      await this.outbox.add(productChangedEvent(EVENT_TYPES.productUpdated, product, actorId, context), {
        transaction,
      });
      return product;
    });
    this.events.notify();
    return updated;
  }

  /** Deletes a product; its `product.deleted` event carries it as it was just before. */
  async delete(id: number, actorId: number, context: ChangeContext): Promise<void> {
    await this.withTransaction(async (transaction) => {
      await this.ownedProduct(id, actorId, transaction);
      const deleted = await this.products.deleteReturning(id, { transaction });
      if (!deleted) throw notFound(id);
      await this.outbox.add(productChangedEvent(EVENT_TYPES.productDeleted, deleted, actorId, context), {
        transaction,
      });
    });
    this.events.notify();
  }

  private async ownedProduct(id: number, actorId: number, transaction: Transaction): Promise<ProductRecord> {
    const product = await this.products.findById(id, { transaction });
    if (!product) throw notFound(id);
    if (product.ownerId !== actorId) throw new ForbiddenError('Only the owner of this product may change it.');
    return product;
  }
}

function notFound(id: number): NotFoundError {
  return new NotFoundError(`Product ${id} does not exist.`);
}
