import test from 'ava';

import { postJson, uniqueUsername } from '../helpers/factories';
import { useUserService } from '../helpers/use-user-service';

const ctx = useUserService({ RATE_LIMIT_PER_MINUTE: '3' });

test('POST /login beyond RATE_LIMIT_PER_MINUTE → 429 with Retry-After, and the attempt is not processed', async (t) => {
  const attempt = () =>
    postJson(ctx.service.baseUrl, '/login', { username: uniqueUsername(), password: 'whatever-pw' });
  const statuses = [];
  for (let i = 0; i < 3; i += 1) statuses.push((await attempt()).status);
  t.deepEqual(statuses, [401, 401, 401]);

  const limited = await attempt();
  t.is(limited.status, 429);
  t.regex(limited.headers.get('retry-after') ?? '', /^\d+$/);
  t.like(await limited.json(), { type: 'urn:problem-type:rate-limited', status: 429 });

  const register = await postJson(ctx.service.baseUrl, '/register', {
    username: uniqueUsername(),
    password: 'whatever-pw',
  });
  t.is(register.status, 429, 'register shares the budget of credential attempts');
});
