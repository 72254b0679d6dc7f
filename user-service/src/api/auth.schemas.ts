import Joi from 'joi';

import { MAX_TOKEN_LENGTH } from '@shop/shared-contracts';

import type { Credentials } from '../services/auth.service';
import { MAX_PASSWORD_BYTES } from '../services/password-hasher';

/** A UTF-16 surrogate without its partner: not a character, and UTF-8 would turn it into U+FFFD. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * 6–72 bytes: bcrypt reads 72 bytes and stops at a NUL, so longer or NUL-bearing passwords are
 * refused, never truncated. Lone surrogates are refused too: they all encode to the same U+FFFD,
 * so two different passwords would share one hash.
 */
const password = Joi.string()
  .min(1)
  .custom((value: string, helpers) => {
    if (LONE_SURROGATE.test(value)) return helpers.error('password.unicode');
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes < 6) return helpers.error('password.tooShort');
    if (bytes > MAX_PASSWORD_BYTES) return helpers.error('password.tooLong');
    if (value.includes('\u0000')) return helpers.error('password.nul');
    return value;
  })
  .messages({
    'password.tooShort': '{{#label}} must be at least 6 bytes long',
    'password.tooLong': `{{#label}} must be at most ${MAX_PASSWORD_BYTES} bytes long`,
    'password.nul': '{{#label}} must not contain a NUL character',
    'password.unicode': '{{#label}} must be valid Unicode text (it has a lone surrogate)',
  })
  .required();

const username = Joi.string()
  .min(3)
  .max(50)
  .pattern(/^[A-Za-z0-9_.-]+$/)
  .messages({ 'string.pattern.base': '{{#label}} may contain only letters, digits, "_", "." and "-"' })
  .required();

export const registerBodySchema: Joi.ObjectSchema<Credentials> = Joi.object<Credentials>({
  username,
  password,
}).required();

/** The OAuth2 password form's optional fields, accepted and ignored. */
export interface LoginBody extends Credentials {
  grant_type?: 'password';
  scope?: string;
  client_id?: string;
  client_secret?: string;
}

/**
 * JSON or the OAuth2 password form. A username no account could have (wrong characters or
 * length) is a 422 at once: that says nothing about which accounts exist.
 */
export const loginBodySchema: Joi.ObjectSchema<LoginBody> = Joi.object<LoginBody>({
  username,
  password,
  grant_type: Joi.string().valid('password'),
  scope: Joi.string().allow('').max(1000),
  client_id: Joi.string().allow('').max(1000),
  client_secret: Joi.string().allow('').max(1000),
}).required();

export const validateTokenBodySchema: Joi.ObjectSchema<{ token: string }> = Joi.object<{ token: string }>({
  token: Joi.string().min(1).max(MAX_TOKEN_LENGTH).required(),
}).required();
