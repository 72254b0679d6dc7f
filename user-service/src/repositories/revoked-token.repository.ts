import { Op, type UniqueConstraintError } from 'sequelize';

import { RevokedTokenModel } from '../models/revoked-token.model';
import { BaseRepository } from './base.repository';

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

  /** Remembers a token as revoked until it expires; revoking it again changes nothing. */
  async revoke(token: Pick<RevokedTokenRecord, 'jti' | 'userId' | 'expiresAt'>): Promise<void> {
    await this.run(() => RevokedTokenModel.bulkCreate([token], { ignoreDuplicates: true }));
  }

  /** Forgets revocations of tokens that have expired anyway; returns how many. */
  async purgeExpired(now: Date = new Date()): Promise<number> {
    return this.run(() => RevokedTokenModel.destroy({ where: { expiresAt: { [Op.lte]: now } } }));
  }

  protected toRecord(instance: RevokedTokenModel): RevokedTokenRecord {
    return { jti: instance.jti, userId: instance.userId, expiresAt: instance.expiresAt, revokedAt: instance.revokedAt };
  }

  protected conflictDetail(_error: UniqueConstraintError): string {
    return 'That token is already revoked.';
  }
}
