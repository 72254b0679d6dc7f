import { Op, QueryTypes } from 'sequelize';

import { RevokedTokenModel } from '../models/revoked-token.model';
import { BaseRepository } from './base.repository';
import type { TransactionOptions } from './transaction';

export interface RevokedTokenRecord {
  jti: string;
  userId: number;
  /** When the token would have expired; the row is useless after that. */
  expiresAt: Date;
  revokedAt: Date;
}

export class RevokedTokenRepository extends BaseRepository<RevokedTokenModel, RevokedTokenRecord> {
  constructor() {
    super(RevokedTokenModel);
  }

  /**
   * Remembers a token as revoked until it expires. True when this call revoked it; false when it
   * already was, in which case nothing changes (so the caller records no second event).
   */
  async revoke(
    token: Pick<RevokedTokenRecord, 'jti' | 'userId' | 'expiresAt'>,
    options: TransactionOptions = {},
  ): Promise<boolean> {
    return this.run(async () => {
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
    return this.run(() => RevokedTokenModel.destroy({ where: { expiresAt: { [Op.lte]: now } } }));
  }

  protected toRecord(instance: RevokedTokenModel): RevokedTokenRecord {
    return { jti: instance.jti, userId: instance.userId, expiresAt: instance.expiresAt, revokedAt: instance.revokedAt };
  }

  protected conflictDetail(): string {
    return 'That token is already revoked.';
  }
}
