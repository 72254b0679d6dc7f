import type { UniqueConstraintError } from 'sequelize';

import { ProductModel } from '../models/product.model';
import { BaseRepository } from './base.repository';

/** A product as the layers above see it. */
export interface ProductRecord {
  id: number;
  name: string;
  description: string | null;
  /** Exact decimal with two places, e.g. `"19.99"`; never a float. */
  price: string;
  quantity: number;
  ownerId: number;
  createdAt: Date;
  updatedAt: Date;
}

export class ProductRepository extends BaseRepository<ProductModel, ProductRecord> {
  constructor() {
    super(ProductModel);
  }

  protected toRecord(instance: ProductModel): ProductRecord {
    return {
      id: instance.id,
      name: instance.name,
      description: instance.description,
      price: instance.price,
      quantity: instance.quantity,
      ownerId: instance.ownerId,
      createdAt: instance.createdAt,
      updatedAt: instance.updatedAt,
    };
  }

  protected conflictDetail(_error: UniqueConstraintError): string {
    return 'A product with that id already exists.';
  }
}
