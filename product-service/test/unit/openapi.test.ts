import test from 'ava';

import { BEARER_TOKEN_REQUIRED } from '@shop/shared-runtime/http';

import { lintOpenApi } from '@shop/test-harness';

import { createOpenApiDocument } from '../../src/api/openapi';

type Operations = Record<string, Record<string, { security?: unknown }>>;

const openApiDocument = createOpenApiDocument({ userServicePublicUrl: 'https://users.shop.example' });

test("OpenAPI document → redocly lint's recommended rules find nothing but the operations routes' want of a 4xx", async (t) => {
  t.deepEqual(await lintOpenApi(openApiDocument, { tagWithout4xx: 'operations' }), []);
});

test("OpenAPI document → the OAuth2 password flow logs in at user-service's public URL", (t) => {
  t.like(openApiDocument.components.securitySchemes, {
    OAuth2PasswordBearer: {
      type: 'oauth2',
      flows: { password: { tokenUrl: 'https://users.shop.example/login', scopes: {} } },
    },
    bearerAuth: { type: 'http', scheme: 'bearer' },
  });
});

test('OpenAPI document → every operation declares security: [] when public, the token schemes on writes', (t) => {
  const paths = openApiDocument.paths as unknown as Operations;
  const writes = ['post /products', 'put /products/{id}', 'patch /products/{id}', 'delete /products/{id}'];
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const name = `${method} ${path}`;
      t.deepEqual(operation.security, writes.includes(name) ? BEARER_TOKEN_REQUIRED : [], name);
    }
  }
});
