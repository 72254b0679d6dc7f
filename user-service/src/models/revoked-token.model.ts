import 'reflect-metadata';

import { Column, DataType, Model, Table } from 'sequelize-typescript';

export interface RevokedTokenAttributes {
  jti: string;
  userId: number;
  expiresAt: Date;
  revokedAt: Date;
}

export type RevokedTokenCreationAttributes = Pick<RevokedTokenAttributes, 'jti' | 'userId' | 'expiresAt'>;

/** The `revoked_tokens` table: token ids refused until they expire. Schema owned by migrations. */
@Table({ tableName: 'revoked_tokens', underscored: true, timestamps: false })
export class RevokedTokenModel extends Model<RevokedTokenAttributes, RevokedTokenCreationAttributes> {
  @Column({ type: DataType.UUID, primaryKey: true })
  declare jti: string;

  @Column({ type: DataType.INTEGER, allowNull: false })
  declare userId: number;

  @Column({ type: DataType.DATE, allowNull: false })
  declare expiresAt: Date;

  @Column({ type: DataType.DATE, allowNull: false, defaultValue: DataType.NOW })
  declare revokedAt: Date;
}
