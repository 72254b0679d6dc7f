import { Sequelize as SequelizeFns, type UniqueConstraintError } from 'sequelize';

import { UserModel } from '../models/user.model';
import { BaseRepository } from './base.repository';

/** A user as the layers above see it. */
export interface UserRecord {
  id: number;
  username: string;
  hashedPassword: string;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** What token validation needs to know about a user: one indexed primary-key read. */
export type UserStatus = Pick<UserRecord, 'id' | 'username' | 'isActive'>;

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

  async findStatusById(id: number): Promise<UserStatus | null> {
    return this.run(async () => {
      const instance = await UserModel.findByPk(id, { attributes: ['id', 'username', 'isActive'], raw: true });
      return instance ? { id: instance.id, username: instance.username, isActive: instance.isActive } : null;
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

  protected conflictDetail(_error: UniqueConstraintError): string {
    return 'That username is already taken.';
  }
}
