import path from 'node:path';

import type { MigrationSource } from '@shop/shared-runtime/db';

import { RevokedTokenModel } from '../models/revoked-token.model';
import { UserModel } from '../models/user.model';

/** The models user-service registers with Sequelize. */
export const MODELS = [UserModel, RevokedTokenModel];

/** user-service's migrations: compiled next to this file, written in src/db/migrations. */
export const MIGRATIONS: MigrationSource = {
  compiledFolder: path.join(__dirname, 'migrations'),
  sourceFolder: path.resolve(__dirname, '../../../src/db/migrations'),
  lockKey: 'user-service:migrations',
};
