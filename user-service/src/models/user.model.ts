import 'reflect-metadata';

import { Column, CreatedAt, DataType, Model, Table, UpdatedAt } from 'sequelize-typescript';

export interface UserAttributes {
  id: number;
  username: string;
  hashedPassword: string;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export type UserCreationAttributes = Pick<UserAttributes, 'username' | 'hashedPassword'> &
  Partial<Pick<UserAttributes, 'isActive'>>;

/** The `users` table. Its schema is owned by the migrations, never by `sync()`. */
@Table({ tableName: 'users', underscored: true })
export class UserModel extends Model<UserAttributes, UserCreationAttributes> {
  @Column({ type: DataType.INTEGER, primaryKey: true, autoIncrement: true })
  declare id: number;

  @Column({ type: DataType.STRING(50), allowNull: false })
  declare username: string;

  @Column({ type: DataType.CHAR(60), allowNull: false })
  declare hashedPassword: string;

  @Column({ type: DataType.BOOLEAN, allowNull: false, defaultValue: true })
  declare isActive: boolean;

  @CreatedAt
  @Column({ type: DataType.DATE })
  declare createdAt: Date;

  @UpdatedAt
  @Column({ type: DataType.DATE })
  declare updatedAt: Date;
}
