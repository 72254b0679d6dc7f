import test from 'ava';
import { Client } from 'pg';

import { forgeToken, postJson, registerUser, uniqueUsername } from '../helpers/factories';
import { RpcProbe } from '../helpers/rpc-probe';
import { useUserService } from '../helpers/use-user-service';

const ctx = useUserService();

/** Cuts this test's service off its own database (no other test shares it), then restores it. */
async function withDatabaseDown(run: () => Promise<void>): Promise<void> {
  const name = new URL(ctx.service.config.db.url).pathname.slice(1);
  await ctx.env.adminQuery(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS false`);
  await ctx.env.adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
  try {
    await run();
  } finally {
    await ctx.env.adminQuery(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS true`);
  }
}

test.serial('database down → 503 with Retry-After on writes, /health 503, RPC error reply; all recover', async (t) => {
  const user = await registerUser(ctx.service.baseUrl);
  const probe = await RpcProbe.open(ctx.env.amqpUrl, ctx.service.queue);
  t.teardown(() => probe.close());

  await withDatabaseDown(async () => {
    const register = await postJson(ctx.service.baseUrl, '/register', {
      username: uniqueUsername(),
      password: 'secret-password',
    });
    t.is(register.status, 503);
    t.regex(register.headers.get('retry-after') ?? '', /^\d+$/);
    t.like(await register.json(), { type: 'urn:problem-type:service-unavailable', status: 503 });

    const login = await postJson(ctx.service.baseUrl, '/login', { username: user.username, password: user.password });
    t.is(login.status, 503, 'never a 401 while the user store is down');

    const health = await fetch(`${ctx.service.baseUrl}/health`);
    t.is(health.status, 503);
    t.like(await health.json(), { status: 'unavailable', checks: { database: { status: 'down' } } });

    const reply = await probe.call({ token: forgeToken({ sub: user.id, username: user.username }) });
    t.like(reply.body, { error: { code: 'internal' } });

    t.is((await fetch(`${ctx.service.baseUrl}/health/live`)).status, 200);
  });

  const login = await postJson(ctx.service.baseUrl, '/login', { username: user.username, password: user.password });
  t.is(login.status, 200);
  t.is((await fetch(`${ctx.service.baseUrl}/health`)).status, 200);
});

test.serial(
  'a register whose database connection is terminated mid-query → 503, never a 500; nothing stored',
  async (t) => {
    const username = uniqueUsername('locked');
    const database = new URL(ctx.service.config.db.url).pathname.slice(1);
    // An uncommitted insert of the same name in another session: the service's INSERT waits on
    // the unique index, in flight, until that session ends.
    const locker = new Client({ connectionString: ctx.service.config.db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(
      'INSERT INTO users (username, hashed_password, is_active, created_at, updated_at) VALUES ($1, $2, true, now(), now())',
      [username, 'x'.repeat(60)],
    );

    const register = postJson(ctx.service.baseUrl, '/register', {
      username: username.toUpperCase(),
      password: 'secret-password',
    });
    let waiters: number[] = [];
    for (let i = 0; i < 250 && waiters.length === 0; i += 1) {
      const rows = await ctx.env.adminQuery<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
        [database],
      );
      waiters = rows.map((row) => row.pid);
      if (waiters.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    t.true(waiters.length > 0, 'the insert is waiting on the lock');
    await ctx.env.adminQuery('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [waiters]);
    const response = await register;
    await locker.query('ROLLBACK');
    await locker.end();

    t.is(response.status, 503);
    t.truthy(response.headers.get('retry-after'));
    t.like(await response.json(), { type: 'urn:problem-type:service-unavailable' });
    t.is(await ctx.service.users.findByUsername(username), null);
  },
);
