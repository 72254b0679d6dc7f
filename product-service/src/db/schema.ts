import path from 'node:path';

import type { MigrationSource } from '@shop/shared-runtime/db';

import { ProductModel } from '../models/product.model';

/** The models product-service registers with Sequelize. */
export const MODELS = [ProductModel];

/** product-service's migrations: compiled next to this file, written in src/db/migrations. */
export const MIGRATIONS: MigrationSource = {
  compiledFolder: path.join(__dirname, 'migrations'),
  sourceFolder: path.resolve(__dirname, '../../../src/db/migrations'),
  lockKey: 'product-service:migrations',
};
