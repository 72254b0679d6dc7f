import { Op, QueryTypes, type Sequelize } from 'sequelize';

import { translateDatabaseErrors, type TransactionOptions } from '@shop/shared-runtime/db';

import { RevokedTokenModel } from '../models/revoked-token.model';

export interface RevokedTokenRecord {
  jti: string;
  userId: number;
  /** When the token would have expired; the row is useless after that. */
  expiresAt: Date;
  revokedAt: Date;
}

/**
 * The revoked tokens, keyed by `jti`: not a BaseRepository, whose id-keyed methods would not
 * work on this table. Driver errors are translated as in every repository.
 */
export class RevokedTokenRepository {
  /**
   * Remembers a token as revoked until it expires. True when this call revoked it; false when it
   * already was, in which case nothing changes (so the caller records no second event).
   */
  async revoke(
    token: Pick<RevokedTokenRecord, 'jti' | 'userId' | 'expiresAt'>,
    options: TransactionOptions = {},
  ): Promise<boolean> {
    return translateDatabaseErrors(async () => {
      const inserted = await this.sequelize.query(
        `INSERT INTO revoked_tokens (jti, user_id, expires_at)
         VALUES ($jti, $userId, $expiresAt)
         ON CONFLICT (jti) DO NOTHING
         RETURNING jti`,
        { type: QueryTypes.SELECT, bind: { ...token }, transaction: options.transaction },
      );
      return inserted.length === 1;
    });
  }

  /** Forgets revocations of tokens that have expired anyway; returns how many. */
  async purgeExpired(now: Date = new Date()): Promise<number> {
    return translateDatabaseErrors(() => RevokedTokenModel.destroy({ where: { expiresAt: { [Op.lte]: now } } }));
  }

  /** The Sequelize instance the model is registered with. */
  private get sequelize(): Sequelize {
    const { sequelize } = RevokedTokenModel;
    if (!sequelize) throw new Error('RevokedTokenModel is not registered with a Sequelize instance');
    return sequelize;
  }
}
