import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { QueryTypes } from 'sequelize';

import { type ApiResponse, call, type CallOptions, INTERNALS } from '@shop/test-harness';

import { registerUser } from '../helpers/factories';
import { useUserService } from '../helpers/use-user-service';
import { PROBLEM_CONTENT_TYPE, problemDetailsSchema, validateMessage } from '@shop/shared-contracts';

// Generated bodies thrown at every write endpoint: never a 5xx, always problem+json on a 4xx,
// and the users table unchanged by every rejected request. Serial: each run compares the
// whole table, so nothing else of this file may write to it meanwhile.
const ctx = useUserService();

/** Generated bodies per endpoint: all of them, however long a slow machine takes (no time limit). */
const RUNS = { numRuns: 200 } as const;

const snapshot = () =>
  ctx.service.sequelize.query('SELECT id, username, hashed_password, is_active, updated_at FROM users ORDER BY id', {
    type: QueryTypes.SELECT,
  });

const KEYS = ['username', 'password', 'token', 'grant_type', 'scope', 'client_id', '__proto__', 'constructor', 'id'];

/** Any JSON-ish value a field might hold: odd strings, edge numbers, nesting. */
const fieldValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({
    unit: fc.constantFrom('a', 'B', '_', '.', '-', '7', ' ', "'", '"', '\\', '<', '\u0000', '😀', 'é'),
    maxLength: 60,
  }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

/** Anything JSON can say, and objects with likely and unlikely keys. */
const anyJson = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 })), fieldValue, { maxKeys: 5 }),
  fc.jsonValue({ maxDepth: 3 }),
);

const username = fc.oneof(
  fc.constant('fuzz_known'),
  fc.stringMatching(/^[A-Za-z0-9_.-]{3,50}$/),
  fc.stringMatching(/^[A-Za-z0-9_.-]{0,60}$/),
  fieldValue,
);
const password = fc.oneof(fc.constant('fuzz-password'), fc.string({ minLength: 6, maxLength: 72 }), fieldValue);
const token = fc.oneof(
  fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((parts) => parts.join('.').replaceAll('=', '')),
  fieldValue,
);

/** Bodies close to a valid one (so the deeper paths run too), with now and then an extra key. */
const nearlyValid = {
  '/register': fc.record({ username, password }),
  '/login': fc.record(
    { username, password, grant_type: fc.constantFrom('password', 'implicit', '') },
    { requiredKeys: ['username', 'password'] },
  ),
  '/validate-token': fc.record({ token }),
};

/** JSON text, some of it broken or carrying numbers JSON.stringify never writes. */
const rawText = (body: fc.Arbitrary<unknown>) =>
  fc.oneof(
    // JSON.stringify answers undefined for undefined, which a generated body may be.
    body.map((value) => (JSON.stringify(value) as string | undefined) ?? 'null'),
    body.map((value) => ((JSON.stringify(value) as string | undefined) ?? '').slice(0, -1)),
    fc
      .constantFrom('1e999', '-0', '99999999999999999999', '-1e-999', 'NaN', 'Infinity')
      .map((number) => `{"username":${number},"password":${number},"token":${number}}`),
    fc.string({ unit: 'binary', maxLength: 60 }),
  );

const requestFor = (path: keyof typeof nearlyValid): fc.Arbitrary<CallOptions> => {
  const body = fc.oneof({ weight: 3, arbitrary: nearlyValid[path] }, { weight: 2, arbitrary: anyJson });
  return fc.oneof(
    { weight: 3, arbitrary: body.map((value) => ({ json: value })) },
    { weight: 2, arbitrary: rawText(body).map((text) => ({ raw: text, contentType: 'application/json' })) },
    {
      weight: 1,
      arbitrary: fc
        .dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })), fc.string({ maxLength: 80 }), {
          maxKeys: 6,
        })
        .map((fields) => ({ form: fields })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('text/plain', 'application/xml', 'application/json; charset=koi8-r', ''), rawText(body))
        .map(([contentType, text]) => ({ raw: text, contentType })),
    },
  );
};

function assertWellFormed(t: ExecutionContext, response: ApiResponse, allowed: number[]): void {
  if (response.status >= 500 || !allowed.includes(response.status)) {
    throw new Error(`unexpected ${response.status}: ${response.text}`);
  }
  if (response.status >= 400) {
    if (response.headers.get('content-type') !== `${PROBLEM_CONTENT_TYPE}; charset=utf-8`) {
      throw new Error(`a ${response.status} that is not problem+json: ${response.text}`);
    }
    if (!validateMessage(problemDetailsSchema, response.body).ok) throw new Error(`not a problem: ${response.text}`);
  }
  if (INTERNALS.test(response.text)) throw new Error(`internals in the response: ${response.text}`);
  t.pass();
}

test.serial.before(async () => {
  // Generated logins sometimes name this user with its password, so the 200 path is run too.
  await registerUser(ctx.service.baseUrl, { username: 'fuzz_known', password: 'fuzz-password' });
});

for (const [path, allowed, mayStore] of [
  ['/register', [201, 400, 409, 413, 415, 422], true],
  ['/login', [200, 400, 401, 413, 415, 422], false],
  ['/validate-token', [200, 400, 413, 415, 422], false],
] as const) {
  test.serial(
    `POST ${path} → generated bodies: never a 5xx, problem+json on every 4xx, nothing changed on rejection`,
    async (t) => {
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(requestFor(path), async (options) => {
          const before = await snapshot();
          const response = await call(ctx.service.baseUrl, 'POST', path, options);
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          assertWellFormed(t, response, [...allowed]);
          const after = await snapshot();
          if (mayStore && response.status === 201) {
            if (after.length !== before.length + 1) throw new Error('a 201 did not store exactly one user');
          } else {
            t.deepEqual(after, before);
          }
        }),
        RUNS,
      );
      const runs = [...statuses.values()].reduce((sum, count) => sum + count, 0);
      t.is(runs, RUNS.numRuns, 'every generated body was sent');
      t.log(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
    },
  );
}
