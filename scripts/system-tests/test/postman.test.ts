import test from 'ava';
import newman, { type NewmanRunSummary } from 'newman';
import path from 'node:path';

import { TestEnvironment } from '@shop/test-harness';

import { REPO_ROOT, startSystem, type RunningSystem } from '../src';

const POSTMAN_DIR = path.join(REPO_ROOT, 'docs', 'postman');

let env: TestEnvironment | undefined;
let system: RunningSystem | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
  system = await startSystem(env);
});

test.after.always(async () => {
  await system?.stop();
  await env?.close();
});

function runCollection(userUrl: string, productUrl: string): Promise<NewmanRunSummary> {
  return new Promise((resolve, reject) => {
    newman.run(
      {
        collection: path.join(POSTMAN_DIR, 'rabbitmq-rpc-shop.postman_collection.json'),
        environment: path.join(POSTMAN_DIR, 'local.postman_environment.json'),
        envVar: [
          { key: 'user_url', value: userUrl },
          { key: 'product_url', value: productUrl },
        ],
        reporters: ['cli'],
      },
      (error, summary) => {
        if (error) reject(error);
        else resolve(summary);
      },
    );
  });
}

test('the Postman collection passes with newman against both services', async (t) => {
  if (!system) throw new Error('the system has not started');
  const summary = await runCollection(system.user.baseUrl, system.product.baseUrl);

  const failures = summary.run.failures.map((failure) => `${failure.source?.name ?? '?'}: ${failure.error.message}`);
  t.deepEqual(failures, []);
  t.is(summary.run.stats.requests.total, 20);
  t.true((summary.run.stats.assertions.total ?? 0) >= 17, 'every request has tests');
});
