import test from 'ava';
import { Writable } from 'node:stream';
import { QueryTypes } from 'sequelize';

import { call } from '@shop/test-harness';

import { loginToken, registerUser } from '../helpers/factories';
import { RpcProbe } from '../helpers/rpc-probe';
import { useUserService } from '../helpers/use-user-service';

/** Every log line the service writes, at the most verbose level. */
const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

const ctx = useUserService({ LOG_LEVEL: 'trace' }, { logDestination: capture });

test.serial(
  'logs → no password, hash, token or Authorization value, through register, login and validation',
  async (t) => {
    const password = 'Very-Secret-Passw0rd!';
    const user = await registerUser(ctx.service.baseUrl, { password });
    const token = await loginToken(ctx.service.baseUrl, user);
    const [row] = await ctx.service.sequelize.query<{ hashed_password: string }>(
      'SELECT hashed_password FROM users WHERE id = :id',
      { replacements: { id: user.id }, type: QueryTypes.SELECT },
    );
    const hash = row!.hashed_password;

    // Also the failure paths, and secrets where a careless client might put them.
    await call(ctx.service.baseUrl, 'POST', '/login', { json: { username: user.username, password: `${password}x` } });
    await call(ctx.service.baseUrl, 'POST', '/login', { json: { username: user.username, password: 'p'.repeat(73) } });
    await call(ctx.service.baseUrl, 'POST', `/login?password=${encodeURIComponent(password)}`, {
      form: { username: user.username, password },
    });
    await call(ctx.service.baseUrl, 'POST', '/validate-token', {
      json: { token },
      headers: { authorization: `Bearer ${token}`, cookie: `session=${token}` },
    });
    await call(ctx.service.baseUrl, 'POST', '/register', { json: { username: user.username, password } });
    await call(ctx.service.baseUrl, 'GET', `/nope?token=${token}`, { headers: { authorization: `Bearer ${token}` } });
    // And the same token validated over RabbitMQ, as product-service asks.
    const probe = await RpcProbe.open(ctx.env.amqpUrl, ctx.service.queue);
    t.like((await probe.call({ token }, { headers: { 'x-request-id': 'log-redaction' } })).body, { valid: true });
    await probe.close();

    const log = lines.join('\n');
    t.true(lines.length > 10, 'the service logged something');
    t.true(log.includes(user.username), 'the log does name the user, so the capture works');
    for (const [what, secret] of [
      ['password', password],
      ['bcrypt hash', hash],
      ['hash body', hash.slice(7)],
      ['token', token],
      ['token signature', token.split('.')[2]!],
    ] as const) {
      t.false(log.includes(secret), `the log contains the ${what}`);
    }
    t.notRegex(log, /Bearer /i);
    t.regex(log, /password=\[redacted\]/, 'a password in the query string is masked in the logged URL');
  },
);
