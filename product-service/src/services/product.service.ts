import { ForbiddenError, NotFoundError } from '../errors';
import type { Page } from '../repositories/base.repository';
import type { ProductRecord, ProductRepository } from '../repositories/product.repository';

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
}

export class ProductService {
  private readonly products: ProductRepository;

  constructor(deps: ProductServiceDeps) {
    this.products = deps.products;
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

  /** Creates a product owned by `ownerId`, the authenticated caller. */
  async create(input: NewProduct, ownerId: number): Promise<ProductRecord> {
    return this.products.create({ ...input, ownerId });
  }

  /** Changes only the given fields. 404 before 403: a missing product is reported as such to anyone. */
  async update(id: number, changes: ProductChanges, actorId: number): Promise<ProductRecord> {
    await this.ownedProduct(id, actorId);
    const updated = await this.products.update(id, changes);
    if (!updated) throw notFound(id);
    return updated;
  }

  async delete(id: number, actorId: number): Promise<void> {
    await this.ownedProduct(id, actorId);
    if (!(await this.products.delete(id))) throw notFound(id);
  }

  private async ownedProduct(id: number, actorId: number): Promise<ProductRecord> {
    const product = await this.get(id);
    if (product.ownerId !== actorId) throw new ForbiddenError('Only the owner of this product may change it.');
    return product;
  }
}

function notFound(id: number): NotFoundError {
  return new NotFoundError(`Product ${id} does not exist.`);
}
