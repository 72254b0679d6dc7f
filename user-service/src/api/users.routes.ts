import { Router, type Response } from 'express';

import { changeContextOf, parse, requireContentType, type BearerAuth } from '@shop/shared-runtime/http';

import type { AuthService, Caller } from '../services/auth.service';
import { revokeBodySchema, updateMeBodySchema } from './users.schemas';
import { toPublicUser } from './users.presenter';

/** Routes of a logged-in user: logout, token revocation (RFC 7009), deactivating the account. */
export function createUsersRouter(deps: { authService: AuthService; auth: BearerAuth<Caller> }): Router {
  const { authService, auth } = deps;
  const { requireAuth } = auth;
  const callerOf = (res: Response) => auth.identityOf(res);
  const router = Router();

  router.post('/logout', requireAuth, async (req, res) => {
    await authService.logout(callerOf(res), changeContextOf(req));
    res.status(204).end();
  });

  router.post(
    '/revoke',
    requireAuth,
    requireContentType('application/x-www-form-urlencoded', 'application/json'),
    async (req, res) => {
      const { token } = parse(revokeBodySchema, req.body, 'body');
      await authService.revoke(token, callerOf(res), changeContextOf(req));
      // RFC 7009 §2.2: 200 whether or not the token was valid or known.
      res.set('Cache-Control', 'no-store').status(200).json({});
    },
  );

  router.patch('/users/me', requireAuth, requireContentType('application/json'), async (req, res) => {
    parse(updateMeBodySchema, req.body, 'body');
    res.json(toPublicUser(await authService.deactivate(callerOf(res), changeContextOf(req))));
  });

  return router;
}
