import Joi from 'joi';

/**
 * Upper bound on a token's length, in characters. Our tokens are ~250 characters;
 * anything near this size is not one of ours, and bounding it keeps a hostile
 * message from costing the responder more than a string comparison.
 */
export const MAX_TOKEN_LENGTH = 4096;

/** Body of an `auth.validate_token` request. */
export interface ValidateTokenRequest {
  token: string;
}

/** Why a token was refused. */
export const INVALID_TOKEN_REASONS = [
  'malformed',
  'bad_signature',
  'expired',
  'revoked',
  'user_inactive',
  'user_not_found',
] as const;

export type InvalidTokenReason = (typeof INVALID_TOKEN_REASONS)[number];

/**
 * Codes of an `error` reply: the request itself was unusable, its sender (the AMQP `userId`)
 * is not an allowed caller, or the responder failed.
 */
export const RPC_ERROR_CODES = ['bad_request', 'forbidden', 'internal'] as const;

export type RpcErrorCode = (typeof RPC_ERROR_CODES)[number];

export interface ValidTokenReply {
  valid: true;
  user_id: number;
  username: string;
  /** ISO 8601 UTC instant after which the token is no longer valid. */
  expires_at: string;
}

export interface InvalidTokenReply {
  valid: false;
  reason: InvalidTokenReason;
}

export interface RpcErrorReply {
  error: {
    code: RpcErrorCode;
    message: string;
  };
}

/** Body of an `auth.validate_token.reply`: exactly one of the three shapes. */
export type ValidateTokenReply = ValidTokenReply | InvalidTokenReply | RpcErrorReply;

export const validateTokenRequestSchema: Joi.ObjectSchema<ValidateTokenRequest> = Joi.object<ValidateTokenRequest>({
  token: Joi.string().min(1).max(MAX_TOKEN_LENGTH).required(),
})
  .required()
  .unknown(false);

export const validTokenReplySchema: Joi.ObjectSchema<ValidTokenReply> = Joi.object<ValidTokenReply>({
  valid: Joi.boolean().valid(true).required(),
  user_id: Joi.number().integer().positive().required(),
  username: Joi.string().min(1).required(),
  expires_at: Joi.string().isoDate().required(),
}).unknown(false);

export const invalidTokenReplySchema: Joi.ObjectSchema<InvalidTokenReply> = Joi.object<InvalidTokenReply>({
  valid: Joi.boolean().valid(false).required(),
  reason: Joi.string()
    .valid(...INVALID_TOKEN_REASONS)
    .required(),
}).unknown(false);

export const rpcErrorReplySchema: Joi.ObjectSchema<RpcErrorReply> = Joi.object<RpcErrorReply>({
  error: Joi.object({
    code: Joi.string()
      .valid(...RPC_ERROR_CODES)
      .required(),
    message: Joi.string().max(1000).required(),
  })
    .required()
    .unknown(false),
}).unknown(false);

/** Accepts exactly one of the three reply shapes; anything else is an unknown variant. */
export const validateTokenReplySchema: Joi.AlternativesSchema<ValidateTokenReply> =
  Joi.alternatives<ValidateTokenReply>()
    .try(validTokenReplySchema, invalidTokenReplySchema, rpcErrorReplySchema)
    .match('one')
    .required()
    .messages({
      'alternatives.match': '{{#label}} is not a valid-token, invalid-token or error reply',
      'alternatives.any': '{{#label}} is not a valid-token, invalid-token or error reply',
    });
