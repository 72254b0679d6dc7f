import { QueryTypes, Sequelize as SequelizeFns } from 'sequelize';

import { BaseRepository, type TransactionOptions } from '@shop/shared-runtime/db';

import { UserModel } from '../models/user.model';

/** A user as the layers above see it. */
export interface UserRecord {
  id: number;
  username: string;
  hashedPassword: string;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** What token validation needs to know about a token's user and the token itself. */
export interface TokenSubject {
  id: number;
  username: string;
  isActive: boolean;
  /** Whether the token's id has been revoked (logout, RFC 7009 revocation). */
  revoked: boolean;
}

export class UserRepository extends BaseRepository<UserModel, UserRecord> {
  constructor() {
    super(UserModel);
  }

  /** Looks a user up by name without regard to case (the unique index is on lower(username)). */
  async findByUsername(username: string): Promise<UserRecord | null> {
    return this.run(async () => {
      const instance = await UserModel.findOne({
        where: SequelizeFns.where(SequelizeFns.fn('lower', SequelizeFns.col('username')), username.toLowerCase()),
      });
      return instance ? this.toRecord(instance) : null;
    });
  }

  /**
   * Deactivates a user who is active, in one statement; the updated user, or null when no active
   * user has that id (already inactive, or gone), in which case nothing changes.
   */
  async deactivate(id: number, options: TransactionOptions = {}): Promise<UserRecord | null> {
    return this.run(async () => {
      const [, rows] = await UserModel.update(
        { isActive: false },
        { where: { id, isActive: true }, returning: true, transaction: options.transaction },
      );
      const [user] = rows;
      return user ? this.toRecord(user) : null;
    });
  }

  /**
   * The token's user and whether the token was revoked, in one round trip: token validation is
   * the hot path of every authorised write, so it costs one indexed read, not two.
   */
  async findTokenSubject(userId: number, jti: string): Promise<TokenSubject | null> {
    return this.run(async () => {
      const sequelize = UserModel.sequelize;
      if (!sequelize) throw new Error('UserModel is not registered with a Sequelize instance');
      const [row] = await sequelize.query<TokenSubject>(
        `SELECT u.id, u.username, u.is_active AS "isActive",
                EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = :jti) AS revoked
           FROM users u
          WHERE u.id = :userId`,
        { replacements: { userId, jti }, type: QueryTypes.SELECT },
      );
      return row ?? null;
    });
  }

  protected toRecord(instance: UserModel): UserRecord {
    return {
      id: instance.id,
      username: instance.username,
      hashedPassword: instance.hashedPassword,
      isActive: instance.isActive,
      createdAt: instance.createdAt,
      updatedAt: instance.updatedAt,
    };
  }

  protected conflictDetail(): string {
    return 'That username is already taken.';
  }
}
