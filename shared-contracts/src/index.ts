export {
  AUTH_VALIDATE_TOKEN_QUEUE,
  DIRECT_REPLY_TO_QUEUE,
  JSON_CONTENT_TYPE,
  MESSAGE_TYPES,
  REQUEST_ID_HEADER,
  SERVICE_NAMES,
  TRACEPARENT_HEADER,
  isValidTraceparent,
  traceIdOf,
} from './rpc';
export type { MessageType, ServiceName } from './rpc';

export {
  INVALID_TOKEN_REASONS,
  MAX_TOKEN_LENGTH,
  RPC_ERROR_CODES,
  invalidTokenReplySchema,
  rpcErrorReplySchema,
  validTokenReplySchema,
  validateTokenReplySchema,
  validateTokenRequestSchema,
} from './validate-token';
export type {
  InvalidTokenReason,
  InvalidTokenReply,
  RpcErrorCode,
  RpcErrorReply,
  ValidTokenReply,
  ValidateTokenReply,
  ValidateTokenRequest,
} from './validate-token';

export { decodeMessage, validateMessage } from './decode-message';
export type { DecodeResult } from './decode-message';

export {
  ERROR_CODES,
  MAX_REQUEST_ID_LENGTH,
  PROBLEM_CONTENT_TYPE,
  fieldErrorSchema,
  isSafeRequestId,
  problemDetailsSchema,
  problemType,
} from './problem-details';
export type { ErrorCode, FieldError, ProblemDetails } from './problem-details';

export { accessTokenResponseSchema, publicUserSchema } from './users';
export type { AccessTokenResponse, PublicUser } from './users';

export { COMMON_OPENAPI_SCHEMAS } from './openapi-schemas';

export {
  AUTH_EVENTS_EXCHANGE,
  EVENT_SCHEMAS,
  EVENT_TYPES,
  EVENT_VERSION,
  PRODUCT_EVENTS_EXCHANGE,
  authEventSchema,
  domainEventSchema,
  productCreatedEventSchema,
  productDeletedEventSchema,
  productEventSchema,
  productUpdatedEventSchema,
  tokenRevokedEventSchema,
  userDeactivatedEventSchema,
} from './events';
export type {
  AuthEvent,
  DomainEvent,
  EventEnvelope,
  EventType,
  ProductChangeData,
  ProductCreatedEvent,
  ProductDeletedEvent,
  ProductEvent,
  ProductSnapshot,
  ProductUpdatedEvent,
  TokenRevokedData,
  TokenRevokedEvent,
  UserDeactivatedData,
  UserDeactivatedEvent,
} from './events';

export { decodeValidateTokenReply, decodeValidateTokenRequest } from './validate-token-codec';
export { validateEvent } from './validate-event';
