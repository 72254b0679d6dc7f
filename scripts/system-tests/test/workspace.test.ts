import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from '../src';

/**
 * Packages whose classes are checked with `instanceof` across the services and shared-runtime
 * (Sequelize's errors, AppError's express middleware, amqplib's connection, prom-client's
 * registry, pino's logger). shared-runtime takes them as peerDependencies; a second copy under
 * shared-runtime would make every such check fail without a compile error.
 */
const SINGLE_COPY_PACKAGES = ['express', 'sequelize', 'sequelize-typescript', 'amqplib', 'pg', 'pino', 'prom-client'];

const PACKAGES_THAT_SHARE_THEM = ['shared-runtime', 'user-service', 'product-service'];

for (const name of SINGLE_COPY_PACKAGES) {
  test(`${name} → resolves to one copy from shared-runtime and from both services`, (t) => {
    const resolved = PACKAGES_THAT_SHARE_THEM.map((folder) =>
      require.resolve(name, { paths: [path.join(REPO_ROOT, folder)] }),
    );
    t.is(new Set(resolved).size, 1, resolved.join('\n'));
  });
}

test('shared-runtime → takes the single-copy packages as peers, never as its own dependencies', (t) => {
  const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'shared-runtime', 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  for (const name of SINGLE_COPY_PACKAGES) {
    t.truthy(manifest.peerDependencies?.[name], `${name} is a peer`);
    t.is(manifest.dependencies?.[name], undefined, `${name} is not a dependency`);
  }
});

test('package exports → shared-runtime and product-service refuse deep imports', (t) => {
  const deepImports = [
    '@shop/shared-runtime/dist/src/errors',
    '@shop/shared-runtime/src/errors',
    '@shop/product-service/dist/src/composition',
    '@shop/user-service/dist/src/composition',
  ];
  for (const specifier of deepImports) {
    const error = t.throws(() => require.resolve(specifier, { paths: [REPO_ROOT] }));
    t.is((error as NodeJS.ErrnoException | undefined)?.code, 'ERR_PACKAGE_PATH_NOT_EXPORTED', specifier);
  }
  for (const entry of [
    '@shop/shared-runtime',
    '@shop/shared-runtime/http',
    '@shop/shared-runtime/db',
    '@shop/shared-runtime/messaging',
    '@shop/shared-runtime/tracing',
  ]) {
    t.notThrows(() => require.resolve(entry, { paths: [REPO_ROOT] }), entry);
  }
});
