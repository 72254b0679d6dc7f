import test from 'ava';

import { call } from '@shop/test-harness';

import { useUserService } from '../helpers/use-user-service';

// How CORS answers is shared-runtime's (its test/integration/cors.test.ts); what is user-service's
// own is which origins come from CORS_ORIGINS and which methods its routes answer.
const ALLOWED = 'https://shop.example';
const ctx = useUserService({ CORS_ORIGINS: `${ALLOWED}, http://localhost:3000` });

test('CORS → a preflight from an origin of CORS_ORIGINS is 204 allowing the methods user-service’s routes answer', async (t) => {
  const response = await call(ctx.service.baseUrl, 'OPTIONS', '/login', {
    headers: {
      origin: 'http://localhost:3000',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });

  t.is(response.status, 204);
  t.is(response.headers.get('access-control-allow-origin'), 'http://localhost:3000');
  t.regex(response.headers.get('access-control-allow-methods') ?? '', /POST/);
  t.regex(response.headers.get('access-control-allow-methods') ?? '', /PATCH/, 'PATCH /users/me');
});
