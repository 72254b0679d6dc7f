import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';

import { REPO_ROOT } from '../src';

const run = promisify(execFile);
const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  ports?: (string | { target: number; published: string | number })[];
  expose?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  container_name?: string;
  volumes?: string[];
}

/**
 * The compose file as Compose itself resolves it (interpolation, anchors, defaults): with
 * `docker-compose` (v1, Debian's package) or `docker compose` (v2). Where neither exists the
 * YAML is parsed directly, so the wiring checks still run.
 */
async function resolvedCompose(): Promise<{
  services: Record<string, ComposeService>;
  volumes: object;
  resolvedBy: string;
}> {
  const attempts: [string, string[], string[]][] = [
    ['docker-compose', ['version'], ['-f', COMPOSE_FILE, 'config']],
    // A docker CLI without the compose plugin says "unknown command" here, so it is skipped.
    ['docker', ['compose', 'version'], ['compose', '-f', COMPOSE_FILE, 'config']],
  ];
  const options = { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '' } };
  for (const [command, probe, args] of attempts) {
    if (
      !(await run(command, probe, options).then(
        () => true,
        () => false,
      ))
    )
      continue;
    let stdout: string;
    try {
      ({ stdout } = await run(command, args, options));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    return { ...(parse(stdout) as { services: Record<string, ComposeService>; volumes: object }), resolvedBy: command };
  }
  const raw = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
    volumes: object;
  };
  return { ...raw, resolvedBy: 'yaml' };
}

test('docker-compose.yml → parses with `docker-compose config`', async (t) => {
  const { resolvedBy } = await resolvedCompose();
  if (resolvedBy === 'yaml') t.log('neither docker-compose nor docker compose is installed: only the YAML was parsed');
  t.pass();
});

test('docker-compose.yml → wires the services, ports, health checks and dependencies of the contract', async (t) => {
  const { services, volumes } = await resolvedCompose();
  t.deepEqual(Object.keys(services).sort(), [
    'product-db',
    'product-service',
    'rabbitmq',
    'user-db',
    'user-gateway',
    'user-service',
  ]);

  const published = (name: string) =>
    (services[name]?.ports ?? []).map((port) =>
      typeof port === 'string' ? port : `${String(port.published)}:${port.target}`,
    );
  t.deepEqual(published('user-db'), ['5433:5432']);
  t.deepEqual(published('product-db'), ['5434:5432']);
  t.deepEqual(published('rabbitmq').sort(), ['15672:15672', '5672:5672']);
  t.deepEqual(published('user-gateway'), ['8001:8001']);
  t.deepEqual(published('product-service'), ['8002:8002']);
  t.deepEqual(published('user-service'), [], 'replicas publish no port, so --scale cannot clash');

  t.regex(services.rabbitmq?.image ?? '', /^rabbitmq:(3\.1[3-9]|[4-9])[.\d]*-management/);
  for (const db of ['user-db', 'product-db']) {
    t.regex(services[db]?.image ?? '', /^postgres:16/);
    t.regex(JSON.stringify(services[db]?.healthcheck?.test), /pg_isready/);
    t.true((services[db]?.volumes ?? []).length > 0, `${db} keeps its data in a volume`);
  }
  t.truthy(services.rabbitmq?.healthcheck);
  t.truthy(services['user-gateway']?.healthcheck);
  // Named volumes (Compose resolves `name:` to `{}`, plain YAML reads it as null).
  for (const volume of ['user-db-data', 'product-db-data']) t.true(volume in volumes, `volume ${volume}`);

  t.deepEqual(services['user-service']?.depends_on, {
    'user-db': { condition: 'service_healthy' },
    rabbitmq: { condition: 'service_healthy' },
  });
  t.deepEqual(services['product-service']?.depends_on, {
    'product-db': { condition: 'service_healthy' },
    rabbitmq: { condition: 'service_healthy' },
  });

  for (const [name, service] of Object.entries(services)) {
    t.is(service.container_name, undefined, `${name} has no container_name (it would block --scale)`);
  }

  const userEnv = services['user-service']?.environment ?? {};
  const productEnv = services['product-service']?.environment ?? {};
  t.regex(userEnv.DATABASE_URL ?? '', /@user-db:5432\/user_service_db$/);
  t.regex(productEnv.DATABASE_URL ?? '', /@product-db:5432\/product_service_db$/);
  t.true((userEnv.SECRET_KEY ?? '').length >= 32, 'one shared signing key for every replica');
  t.is(productEnv.SECRET_KEY, undefined, 'product-service never sees the JWT secret');
  t.is(productEnv.AUTH_RPC_TIMEOUT_MS, '3000');
});

test('Dockerfiles → multi-stage, npm ci from the lockfile, production dependencies, non-root, node as PID 1', (t) => {
  for (const service of ['user-service', 'product-service']) {
    const dockerfile = readFileSync(path.join(REPO_ROOT, service, 'Dockerfile'), 'utf8');
    t.is(dockerfile.match(/^FROM /gm)?.length, 2, `${service}: build and runtime stages`);
    t.regex(dockerfile, /RUN npm ci --no-audit/);
    t.regex(dockerfile, new RegExp(`RUN npm ci --omit=dev --workspace ${service}`));
    t.regex(dockerfile, /^USER node$/m);
    t.regex(dockerfile, /^HEALTHCHECK /m);
    t.regex(dockerfile, /^CMD \["node", "dist\/src\/main\.js"\]$/m);
  }
});
