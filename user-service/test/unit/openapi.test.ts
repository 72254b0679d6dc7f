import test from 'ava';

import { BEARER_TOKEN_REQUIRED } from '@shop/shared-runtime/http';

import { lintOpenApi } from '@shop/test-harness';

import { openApiDocument } from '../../src/api/openapi';

type Operations = Record<string, Record<string, { security?: unknown }>>;

test("OpenAPI document → redocly lint's recommended rules find nothing but the operations routes' want of a 4xx", async (t) => {
  t.deepEqual(await lintOpenApi(openApiDocument, { tagWithout4xx: 'operations' }), []);
});

test('OpenAPI document → an OAuth2 password flow logging in at /login, and a bearer scheme', (t) => {
  t.like(openApiDocument.components.securitySchemes, {
    OAuth2PasswordBearer: { type: 'oauth2', flows: { password: { tokenUrl: '/login', scopes: {} } } },
    bearerAuth: { type: 'http', scheme: 'bearer' },
  });
});

test('OpenAPI document → every operation declares security: [] when public, the token schemes when not', (t) => {
  const paths = openApiDocument.paths as unknown as Operations;
  const secured = ['post /logout', 'post /revoke', 'patch /users/me'];
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const name = `${method} ${path}`;
      t.deepEqual(operation.security, secured.includes(name) ? BEARER_TOKEN_REQUIRED : [], name);
    }
  }
});
