import 'reflect-metadata';

import { Column, CreatedAt, DataType, Model, Table, UpdatedAt } from 'sequelize-typescript';

export interface ProductAttributes {
  id: number;
  name: string;
  description: string | null;
  /** Exact decimal with two places, as PostgreSQL's NUMERIC(12,2) text: `"19.99"`. */
  price: string;
  quantity: number;
  ownerId: number;
  /** 1 when created, one more at each change; the strong ETag and the events' `version`. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export type ProductCreationAttributes = Pick<
  ProductAttributes,
  'name' | 'description' | 'price' | 'quantity' | 'ownerId'
>;

/** The `products` table. Its schema is owned by the migrations, never by `sync()`. */
@Table({ tableName: 'products', underscored: true })
export class ProductModel extends Model<ProductAttributes, ProductCreationAttributes> {
  @Column({ type: DataType.INTEGER, primaryKey: true, autoIncrement: true })
  declare id: number;

  @Column({ type: DataType.STRING(255), allowNull: false })
  declare name: string;

  @Column({ type: DataType.STRING(1000), allowNull: true })
  declare description: string | null;

  // pg hands NUMERIC back as a string; it stays one until the HTTP edge, so no float ever
  // touches an amount.
  @Column({ type: DataType.DECIMAL(12, 2), allowNull: false })
  declare price: string;

  @Column({ type: DataType.INTEGER, allowNull: false })
  declare quantity: number;

  @Column({ type: DataType.INTEGER, allowNull: false })
  declare ownerId: number;

  // Set by the database (default 1, `version + 1` in every update statement), never by the model.
  @Column({ type: DataType.INTEGER, allowNull: false })
  declare version: number;

  @CreatedAt
  @Column({ type: DataType.DATE })
  declare createdAt: Date;

  @UpdatedAt
  @Column({ type: DataType.DATE })
  declare updatedAt: Date;
}
