import Joi from 'joi';

import { MAX_REQUEST_ID_LENGTH } from './problem-details';

/**
 * Domain events. Each service publishes its own events on its own topic exchange, with the
 * event type as the routing key, so a consumer binds `auth.token_revoked`, `product.*` or `#`.
 * Both names can be overridden per deployment (`AUTH_EVENTS_EXCHANGE`,
 * `PRODUCT_EVENTS_EXCHANGE`) so tests and side-by-side stacks never share an exchange.
 */
export const AUTH_EVENTS_EXCHANGE = 'auth.events';
export const PRODUCT_EVENTS_EXCHANGE = 'product.events';

/** Every event type; also the routing key and the AMQP `type` property of its message. */
export const EVENT_TYPES = {
  tokenRevoked: 'auth.token_revoked',
  userDeactivated: 'user.deactivated',
  productCreated: 'product.created',
  productUpdated: 'product.updated',
  productDeleted: 'product.deleted',
} as const;

export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/**
 * Version of every event body defined here. A change a consumer could misread (a field
 * removed, renamed or retyped) gets a new version; adding an optional field does not.
 */
export const EVENT_VERSION = 1;

/**
 * What every event carries. `id` is unique per event and is also the message's AMQP
 * `messageId`: delivery is at least once, so consumers drop an id they have already handled.
 */
export interface EventEnvelope<TType extends EventType, TData> {
  id: string;
  type: TType;
  version: typeof EVENT_VERSION;
  /** ISO 8601 UTC instant of the change (the database commit's clock, not the publish time). */
  occurred_at: string;
  /** The HTTP request that caused the change, for tracing; null when no request did. */
  request_id: string | null;
  data: TData;
}

/** A token was revoked (logout, RFC 7009): refuse it until `exp`. */
export interface TokenRevokedData {
  jti: string;
  /** Whose token it was: a consumer that cannot see token ids evicts by user. */
  user_id: number;
  /** The token's expiry, NumericDate (seconds since the epoch) as in the JWT itself. */
  exp: number;
}

/** A user was deactivated: every one of their tokens is refused from now on. */
export interface UserDeactivatedData {
  user_id: number;
}

/** A product as the HTTP API shows it: price a JSON number, timestamps ISO 8601 UTC. */
export interface ProductSnapshot {
  id: number;
  name: string;
  description: string | null;
  price: number;
  quantity: number;
  owner_id: number;
  created_at: string;
  updated_at: string;
}

/** A product after the change (before it, for `product.deleted`) and the user who made it. */
export interface ProductChangeData {
  product: ProductSnapshot;
  actor_id: number;
  /**
   * The product's version once this change is made — the number its strong `ETag` carries (1
   * when created, one more at each update; for `product.deleted`, one more than the last
   * version) — so a consumer orders a product's events by it and drops an older one arriving
   * late. product-service always writes it; it is optional only for events recorded before
   * products had versions (added without a new EVENT_VERSION, as an optional field).
   */
  version?: number;
}

export type TokenRevokedEvent = EventEnvelope<typeof EVENT_TYPES.tokenRevoked, TokenRevokedData>;
export type UserDeactivatedEvent = EventEnvelope<typeof EVENT_TYPES.userDeactivated, UserDeactivatedData>;
export type ProductCreatedEvent = EventEnvelope<typeof EVENT_TYPES.productCreated, ProductChangeData>;
export type ProductUpdatedEvent = EventEnvelope<typeof EVENT_TYPES.productUpdated, ProductChangeData>;
export type ProductDeletedEvent = EventEnvelope<typeof EVENT_TYPES.productDeleted, ProductChangeData>;

/** Events on `auth.events`, published by user-service. */
export type AuthEvent = TokenRevokedEvent | UserDeactivatedEvent;
/** Events on `product.events`, published by product-service. */
export type ProductEvent = ProductCreatedEvent | ProductUpdatedEvent | ProductDeletedEvent;
export type DomainEvent = AuthEvent | ProductEvent;

const userId = Joi.number().integer().positive().required();

function envelopeSchema<T>(type: EventType, data: Joi.ObjectSchema): Joi.ObjectSchema<T> {
  return Joi.object({
    id: Joi.string().guid({ version: 'uuidv4' }).required(),
    type: Joi.string().valid(type).required(),
    version: Joi.number().valid(EVENT_VERSION).required(),
    occurred_at: Joi.string().isoDate().required(),
    request_id: Joi.string().min(1).max(MAX_REQUEST_ID_LENGTH).allow(null).required(),
    data: data.required(),
  }).unknown(false) as Joi.ObjectSchema<T>;
}

const productSnapshotSchema = Joi.object<ProductSnapshot>({
  id: Joi.number().integer().positive().required(),
  name: Joi.string().min(1).required(),
  description: Joi.string().allow('', null).required(),
  price: Joi.number().min(0).required(),
  quantity: Joi.number().integer().min(0).required(),
  owner_id: userId,
  created_at: Joi.string().isoDate().required(),
  updated_at: Joi.string().isoDate().required(),
}).unknown(false);

const productChangeDataSchema = Joi.object<ProductChangeData>({
  product: productSnapshotSchema.required(),
  actor_id: userId,
  version: Joi.number().integer().positive(),
}).unknown(false);

export const tokenRevokedEventSchema = envelopeSchema<TokenRevokedEvent>(
  EVENT_TYPES.tokenRevoked,
  Joi.object<TokenRevokedData>({
    jti: Joi.string().min(1).max(200).required(),
    user_id: userId,
    exp: Joi.number().integer().positive().required(),
  }).unknown(false),
);

export const userDeactivatedEventSchema = envelopeSchema<UserDeactivatedEvent>(
  EVENT_TYPES.userDeactivated,
  Joi.object<UserDeactivatedData>({ user_id: userId }).unknown(false),
);

export const productCreatedEventSchema = envelopeSchema<ProductCreatedEvent>(
  EVENT_TYPES.productCreated,
  productChangeDataSchema,
);
export const productUpdatedEventSchema = envelopeSchema<ProductUpdatedEvent>(
  EVENT_TYPES.productUpdated,
  productChangeDataSchema,
);
export const productDeletedEventSchema = envelopeSchema<ProductDeletedEvent>(
  EVENT_TYPES.productDeleted,
  productChangeDataSchema,
);

/** The schema of each event type, for a consumer that picks by the message's `type`. */
export const EVENT_SCHEMAS: { readonly [K in EventType]: Joi.ObjectSchema<Extract<DomainEvent, { type: K }>> } = {
  [EVENT_TYPES.tokenRevoked]: tokenRevokedEventSchema,
  [EVENT_TYPES.userDeactivated]: userDeactivatedEventSchema,
  [EVENT_TYPES.productCreated]: productCreatedEventSchema,
  [EVENT_TYPES.productUpdated]: productUpdatedEventSchema,
  [EVENT_TYPES.productDeleted]: productDeletedEventSchema,
};

function oneOf<T>(...schemas: Joi.ObjectSchema[]): Joi.AlternativesSchema<T> {
  return Joi.alternatives<T>()
    .try(...schemas)
    .match('one')
    .required()
    .messages({
      'alternatives.match': '{{#label}} is not one of the events of this exchange',
      'alternatives.any': '{{#label}} is not one of the events of this exchange',
    });
}

/** Any event of `auth.events`. */
export const authEventSchema: Joi.AlternativesSchema<AuthEvent> = oneOf<AuthEvent>(
  tokenRevokedEventSchema,
  userDeactivatedEventSchema,
);

/** Any event of `product.events`. */
export const productEventSchema: Joi.AlternativesSchema<ProductEvent> = oneOf<ProductEvent>(
  productCreatedEventSchema,
  productUpdatedEventSchema,
  productDeletedEventSchema,
);

/** Any event of either exchange. */
export const domainEventSchema: Joi.AlternativesSchema<DomainEvent> = oneOf<DomainEvent>(
  ...Object.values(EVENT_SCHEMAS),
);
