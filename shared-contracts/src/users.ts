import Joi from 'joi';

/** A user as the API shows it: never a password or a hash. */
export interface PublicUser {
  id: number;
  username: string;
  is_active: boolean;
  /** ISO 8601 UTC. */
  created_at: string;
  /** ISO 8601 UTC. */
  updated_at: string;
}

/** Body of a successful `POST /login` (OAuth2 token response). */
export interface AccessTokenResponse {
  access_token: string;
  token_type: 'bearer';
  /** Lifetime of the token, in seconds. */
  expires_in: number;
}

export const publicUserSchema: Joi.ObjectSchema<PublicUser> = Joi.object<PublicUser>({
  id: Joi.number().integer().positive().required(),
  username: Joi.string().required(),
  is_active: Joi.boolean().required(),
  created_at: Joi.string().isoDate().required(),
  updated_at: Joi.string().isoDate().required(),
}).unknown(false);

export const accessTokenResponseSchema: Joi.ObjectSchema<AccessTokenResponse> = Joi.object<AccessTokenResponse>({
  access_token: Joi.string().required(),
  token_type: Joi.string().valid('bearer').required(),
  expires_in: Joi.number().integer().positive().required(),
}).unknown(false);
