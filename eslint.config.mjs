// One lint setup for every workspace: type-checked rules plus the layer rules of STYLE.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (files, patterns) => ({
  files,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
});

const otherService = (name) => ({
  group: [`@shop/${name}`, `@shop/${name}/*`, `../../${name}/*`, `../${name}/*`],
  message:
    'Services never import each other: share contracts through @shop/shared-contracts, plumbing through @shop/shared-runtime.',
});

// shared-runtime's entry points are its whole public surface: `exports` refuses the rest at run time, this says so at lint time.
const runtimeInternals = {
  group: [
    '@shop/shared-runtime/*',
    '!@shop/shared-runtime/http',
    '!@shop/shared-runtime/db',
    '!@shop/shared-runtime/messaging',
    '!@shop/shared-runtime/tracing',
    '**/shared-runtime/src/**',
    '**/shared-runtime/dist/**',
  ],
  message: 'Import @shop/shared-runtime through its entry points: the root, /http, /db, /messaging or /tracing.',
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', URL: 'readonly', console: 'readonly' },
    },
  },
  {
    files: ['**/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  restrict(
    ['shared-contracts/**/*.ts'],
    [
      {
        group: ['express', 'sequelize', 'sequelize-typescript', 'amqplib', 'pg', '@shop/*'],
        message: 'shared-contracts holds contracts only: names, types, schemas, error codes.',
      },
    ],
  ),
  restrict(
    ['shared-runtime/**/*.ts'],
    [
      {
        group: [
          '@shop/user-service',
          '@shop/user-service/*',
          '@shop/product-service',
          '@shop/product-service/*',
          '**/*-service/**',
        ],
        message: 'shared-runtime is plumbing every service runs: it never imports a service.',
      },
      {
        group: ['**/models/*', 'jsonwebtoken', 'bcrypt'],
        message: 'shared-runtime holds no rule of one service: no model, no token signing.',
      },
    ],
  ),
  restrict(
    ['shared-runtime/src/**/*.ts'],
    [{ group: ['@shop/test-harness', '@shop/test-harness/*'], message: 'Test tooling stays out of the runtime.' }],
  ),
  restrict(['user-service/**/*.ts'], [otherService('product-service'), runtimeInternals]),
  restrict(
    ['product-service/**/*.ts'],
    [
      otherService('user-service'),
      runtimeInternals,
      { group: ['jsonwebtoken', 'bcrypt'], message: 'product-service never sees a JWT secret: it asks user-service.' },
    ],
  ),
  restrict(
    ['scripts/**/*.ts'],
    [
      runtimeInternals,
      { group: ['@shop/*/dist/*', '@shop/*/src/*'], message: "Use the packages' public entry points." },
    ],
  ),
  restrict(
    ['*-service/src/services/**/*.ts'],
    [
      {
        group: ['express', '**/api/*', 'amqplib', 'sequelize', 'sequelize-typescript'],
        message: 'services/ sit below api/ and above repositories/; they never touch HTTP, AMQP or Sequelize.',
      },
    ],
  ),
  restrict(
    ['*-service/src/repositories/**/*.ts'],
    [{ group: ['express', '**/api/*', '**/services/*', 'amqplib'], message: 'repositories/ sit below services/.' }],
  ),
  restrict(
    ['*-service/src/models/**/*.ts'],
    [
      {
        group: ['express', '**/api/*', '**/services/*', '**/repositories/*', 'amqplib'],
        message: 'models/ are the bottom layer.',
      },
    ],
  ),
);
