import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

import { TestEnvironment } from '@shop/test-harness';

import { REPO_ROOT, simulateRuntimeStage, type SimulatedImage } from '../src';

const run = promisify(execFile);

let env: TestEnvironment | undefined;

test.before(async () => {
  env = await TestEnvironment.start();
});

test.after.always(async () => {
  await env?.close();
});

/** Runs the image's CMD; resolves with the port it listens on and a way to stop it. */
async function startImage(image: SimulatedImage, extraEnv: Record<string, string>) {
  const [command = 'node', ...args] = image.cmd;
  const child = spawn(command === 'node' ? process.execPath : command, args, {
    cwd: image.workdir,
    env: { PATH: process.env.PATH ?? '', ...image.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const log = JSON.parse(line) as { msg?: string; port?: number };
      if (log.msg?.endsWith('listening') && log.port) resolve(log.port);
    });
    child.once('exit', (code) => {
      reject(new Error(`exited with ${code}: ${stderr}`));
    });
  });
  return {
    port,
    stop: () =>
      new Promise<number | null>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
        else child.once('exit', resolve).kill('SIGTERM');
      }),
  };
}

for (const service of ['user-service', 'product-service'] as const) {
  test(`${service} Dockerfile → the runtime stage holds production dependencies only, starts, and passes its HEALTHCHECK`, async (t) => {
    const environment = env!;
    const image = await simulateRuntimeStage(path.join(REPO_ROOT, service, 'Dockerfile'));
    t.teardown(() => rm(image.root, { recursive: true, force: true }));

    const modules = path.join(image.root, 'app', 'node_modules');
    t.true(existsSync(path.join(modules, 'express')), 'runtime dependencies installed');
    // The service runs on shared-runtime: its build output and its own dependencies are in the image.
    t.true(
      existsSync(path.join(modules, '@shop', 'shared-runtime', 'dist', 'src', 'index.js')),
      'shared-runtime built',
    );
    t.true(existsSync(path.join(modules, 'helmet')), "shared-runtime's dependencies installed");
    for (const devOnly of ['ava', 'typescript', 'testcontainers', 'eslint']) {
      t.false(existsSync(path.join(modules, devOnly)), `${devOnly} is not in the image`);
    }
    t.is(image.env.NODE_ENV, 'production');

    const started = await startImage(image, {
      PORT: '0',
      DATABASE_URL: environment.databaseUrl(environment.reserveDatabaseName(`img${service.slice(0, 4)}`)),
      AMQP_URL: environment.amqpUrl,
      AUTH_RPC_QUEUE: environment.queueName('auth.validate_token'),
      SECRET_KEY: 'image-test-secret-key-of-at-least-32-characters',
      LOG_LEVEL: 'info',
    });
    t.teardown(() => started.stop());

    const [command = 'node', ...args] = image.healthcheck;
    // The HEALTHCHECK retries while the service connects to the broker; so do we, briefly.
    let healthy = false;
    for (let attempt = 0; attempt < 20 && !healthy; attempt += 1) {
      healthy = await run(command === 'node' ? process.execPath : command, args, {
        env: { PATH: process.env.PATH ?? '', PORT: String(started.port) },
      }).then(
        () => true,
        () => false,
      );
      if (!healthy) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    t.true(healthy, 'HEALTHCHECK passes');
    t.is(await started.stop(), 0, 'node as PID 1 exits 0 on SIGTERM');
  });
}
