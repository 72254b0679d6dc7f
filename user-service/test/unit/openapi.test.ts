import test from 'ava';

import { BEARER_TOKEN_REQUIRED, operationsPaths } from '@shop/shared-runtime/http';

import { lintOpenApi } from '@shop/test-harness';

import { openApiDocument } from '../../src/api/openapi';

type Operations = Record<string, Record<string, { security?: unknown }>>;

test('OpenAPI document → redocly lint (recommended rules): no error; warnings only for operations routes without a 4xx', async (t) => {
  const problems = await lintOpenApi(openApiDocument);

  t.deepEqual(
    problems.filter((problem) => problem.severity === 'error'),
    [],
  );
  // /health, /metrics, /docs… answer no 4xx: the one warning the recommended rules keep.
  const operationsResponses = Object.keys(operationsPaths('')).map(
    (path) => `#/paths/${path.replaceAll('/', '~1')}/get/responses`,
  );
  t.deepEqual(
    problems.filter(
      (problem) => !(problem.ruleId === 'operation-4xx-response' && operationsResponses.includes(problem.pointer)),
    ),
    [],
  );
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
