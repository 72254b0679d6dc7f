import Joi from 'joi';

import { MAX_TOKEN_LENGTH } from '@shop/shared-contracts';

/** `PATCH /users/me`: an account can only switch itself off (reactivation is an operator's job). */
export const updateMeBodySchema: Joi.ObjectSchema<{ is_active: false }> = Joi.object<{ is_active: false }>({
  is_active: Joi.boolean().strict().valid(false).required(),
}).required();

/** RFC 7009's revocation request, as a form or JSON. */
export interface RevokeBody {
  token: string;
  token_type_hint?: 'access_token' | 'refresh_token';
}

export const revokeBodySchema: Joi.ObjectSchema<RevokeBody> = Joi.object<RevokeBody>({
  token: Joi.string().min(1).max(MAX_TOKEN_LENGTH).required(),
  token_type_hint: Joi.string().valid('access_token', 'refresh_token'),
}).required();
