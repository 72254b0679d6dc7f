import { Router, type RequestHandler } from 'express';

import type { AccessTokenResponse, InvalidTokenReason } from '@shop/shared-contracts';
import { parse, requireContentType } from '@shop/shared-runtime/http';

import type { AuthService } from '../services/auth.service';
import { loginBodySchema, registerBodySchema, validateTokenBodySchema } from './auth.schemas';
import { toPublicUser } from './users.presenter';

const INVALID_TOKEN_MESSAGES: Record<InvalidTokenReason, string> = {
  malformed: 'The token is malformed.',
  bad_signature: 'The token signature is invalid.',
  expired: 'The token has expired.',
  revoked: 'The token has been revoked.',
  user_inactive: 'The user is inactive.',
  user_not_found: 'The user no longer exists.',
};

export interface AuthRouterDeps {
  authService: AuthService;
  /** Counts every login and register attempt per client address. */
  credentialRateLimit: RequestHandler;
  /** Counts failed logins per username, from any address. */
  loginUsernameRateLimit: RequestHandler;
}

export function createAuthRouter(deps: AuthRouterDeps): Router {
  const { authService } = deps;
  const router = Router();
  const json = requireContentType('application/json');

  router.post('/register', deps.credentialRateLimit, json, async (req, res) => {
    const credentials = parse(registerBodySchema, req.body, 'body');
    const user = await authService.register(credentials);
    res.status(201).json(toPublicUser(user));
  });

  router.post(
    '/login',
    deps.credentialRateLimit,
    deps.loginUsernameRateLimit,
    requireContentType('application/x-www-form-urlencoded', 'application/json'),
    async (req, res) => {
      const { username, password } = parse(loginBodySchema, req.body, 'body');
      const issued = await authService.login({ username, password });
      const body: AccessTokenResponse = {
        access_token: issued.token,
        token_type: 'bearer',
        expires_in: issued.expiresIn,
      };
      res.set('Cache-Control', 'no-store').json(body);
    },
  );

  router.post('/validate-token', json, async (req, res) => {
    const { token } = parse(validateTokenBodySchema, req.body, 'body');
    const result = await authService.validateToken(token);
    if (result.valid) {
      res.json({ valid: true, username: result.username, user_id: result.user_id, message: 'The token is valid.' });
    } else {
      res.json({ valid: false, username: null, reason: result.reason, message: INVALID_TOKEN_MESSAGES[result.reason] });
    }
  });

  return router;
}
