import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';

import { readDefinitions } from '@shop/test-harness';

import { REPO_ROOT, reportMissingTool } from '../src';

const run = promisify(execFile);
const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');
const CLI_OPTIONS = { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '' } };

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  ports?: (string | { target: number; published: string | number })[];
  expose?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  container_name?: string;
  /** Short syntax (`source:target:mode`), or the long form `docker compose` v2 resolves it to. */
  volumes?: (string | { source?: string; target?: string })[];
  profiles?: string[];
  command?: string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: object;
}

/**
 * The Compose CLI on this machine: `docker-compose` (v1, Debian's package, which `.ci/run`
 * installs) or `docker compose` (v2). Looked up synchronously, since ava registers tests
 * synchronously and the titles below say which one ran.
 */
function findComposeCli(): { command: string; prefix: string[] } | undefined {
  const candidates: [string, string[]][] = [
    ['docker-compose', []],
    // A docker CLI without the compose plugin says "unknown command" here, so it is skipped.
    ['docker', ['compose']],
  ];
  for (const [command, prefix] of candidates) {
    if (spawnSync(command, [...prefix, 'version'], { ...CLI_OPTIONS, stdio: 'ignore' }).status === 0) {
      return { command, prefix };
    }
  }
  return undefined;
}

const cli = findComposeCli();
const cliName = cli ? [cli.command, ...cli.prefix].join(' ') : 'docker-compose';

/**
 * The compose file as Compose itself resolves it (interpolation, anchors, defaults), with the
 * given profiles active and extra variables in the CLI's environment.
 */
async function resolvedByCli(profiles: string[] = [], env: Record<string, string> = {}): Promise<ComposeFile> {
  if (!cli) throw new Error('no compose CLI');
  const profileArgs = profiles.flatMap((profile) => ['--profile', profile]);
  const { stdout } = await run(cli.command, [...cli.prefix, '-f', COMPOSE_FILE, ...profileArgs, 'config'], {
    ...CLI_OPTIONS,
    env: { ...CLI_OPTIONS.env, ...env },
  });
  return parse(stdout) as ComposeFile;
}

/** The services that start without a profile (Compose v1's `config` also lists the profiled ones). */
function defaultServices(file: ComposeFile): Record<string, ComposeService> {
  return Object.fromEntries(Object.entries(file.services).filter(([, service]) => !service.profiles?.length));
}

/** The compose file read as plain YAML (anchors merged), for the wiring checks where no CLI exists. */
function readAsYaml(): ComposeFile {
  return parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeFile;
}

const PARSES = `docker-compose.yml → parses with \`${cliName} config\``;
if (cli) {
  test(PARSES, async (t) => {
    const { services } = await resolvedByCli();
    t.true(Object.keys(services).length > 0, 'Compose resolved the services');
  });
} else {
  reportMissingTool(PARSES, {
    onCi: "neither docker-compose nor docker compose is installed on CI (.ci/run installs Debian's docker-compose)",
    here: 'neither docker-compose nor docker compose is installed here',
  });
}

const WIRING_SOURCE = cli ? `as \`${cliName} config\` resolves it` : 'read as plain YAML: no compose CLI here';
test(`docker-compose.yml (${WIRING_SOURCE}) → wires the services, ports, health checks and dependencies of the contract`, async (t) => {
  const file = cli ? await resolvedByCli() : readAsYaml();
  const { volumes } = file;
  const services = defaultServices(file);
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
  // Interpolated by the CLI only: plain YAML reads the `${...:-}` itself.
  if (cli) {
    for (const env of [userEnv, productEnv]) {
      t.is(env.OTEL_EXPORTER_OTLP_ENDPOINT, '', 'no tracing SDK unless an endpoint is given');
    }
  }
});

test(`docker-compose.yml (${WIRING_SOURCE}) → RabbitMQ loads the definitions at boot; each service logs in as its own user in vhost shop, never guest`, async (t) => {
  const { services } = cli ? await resolvedByCli() : readAsYaml();
  const mounts = (services.rabbitmq?.volumes ?? []).map((volume) =>
    typeof volume === 'string' ? volume : `${volume.source ?? ''}:${volume.target ?? ''}`,
  );
  const mounted = (target: string) => mounts.find((volume) => volume.includes(`:${target}`))?.split(':')[0] ?? '';
  t.regex(mounted('/etc/rabbitmq/definitions.json'), /deploy\/rabbitmq\/definitions\.json$/);
  const conf = readFileSync(path.join(REPO_ROOT, 'deploy/rabbitmq/rabbitmq.conf'), 'utf8');
  t.regex(mounted('/etc/rabbitmq/conf.d/20-shop.conf'), /deploy\/rabbitmq\/rabbitmq\.conf$/);
  t.regex(conf, /^load_definitions = \/etc\/rabbitmq\/definitions\.json$/m);

  const definitions = readDefinitions();
  const users = new Set(definitions.users.map((user) => user.name));
  for (const [service, peer] of [
    ['user-service', 'product-service'],
    ['product-service', 'user-service'],
  ] as const) {
    const env = services[service]?.environment ?? {};
    const url = new URL(env.AMQP_URL ?? '');
    t.is(url.username, service, `${service} logs in as itself`);
    t.is(decodeURIComponent(url.pathname), '/shop', `${service} works in vhost shop`);
    t.true(users.has(service), `the definitions create ${service}`);
    t.not(url.password, 'guest');
    t.is(env[service === 'user-service' ? 'USER_SERVICE_BROKER_USER' : 'PRODUCT_SERVICE_BROKER_USER'], service);
    t.is(env[peer === 'user-service' ? 'USER_SERVICE_BROKER_USER' : 'PRODUCT_SERVICE_BROKER_USER'], peer);
  }
  t.is(services['user-service']?.environment?.AUTH_RPC_ALLOWED_CALLERS, 'product-service');
  t.false(users.has('guest'), 'no guest in the definitions');
  t.deepEqual(definitions.vhosts, [{ name: 'shop' }]);
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

/** A bind mount's host path (relative to the repository) and target, from either volume syntax. */
function bindMounts(service: ComposeService | undefined): { source: string; target: string }[] {
  return (service?.volumes ?? []).map((volume) => {
    if (typeof volume !== 'string') return { source: volume.source ?? '', target: volume.target ?? '' };
    const [source = '', target = ''] = volume.split(':');
    return { source, target };
  });
}

/** The host file mounted at `target` in `service`, read from the repository. */
function mountedFile(service: ComposeService | undefined, target: string): string {
  const mount = bindMounts(service).find((candidate) => candidate.target === target);
  if (!mount) throw new Error(`nothing is mounted at ${target}`);
  return path.resolve(REPO_ROOT, mount.source);
}

interface PrometheusConfig {
  rule_files: string[];
  scrape_configs: {
    job_name: string;
    metrics_path?: string;
    dns_sd_configs?: { names: string[]; type: string; port: number }[];
    static_configs?: { targets: string[] }[];
  }[];
}

const OBSERVABILITY = `docker-compose.yml --profile observability (${WIRING_SOURCE}) → Jaeger, Prometheus scraping every replica with the alert rules, Grafana provisioned`;
test(OBSERVABILITY, async (t) => {
  const file = cli ? await resolvedByCli(['observability']) : readAsYaml();
  const { services } = file;
  const observability = ['grafana', 'jaeger', 'prometheus'];
  for (const name of observability)
    t.deepEqual(services[name]?.profiles, ['observability'], `${name} only with the profile`);
  t.regex(services.jaeger?.image ?? '', /^jaegertracing\/all-in-one:/);
  t.regex(services.prometheus?.image ?? '', /^prom\/prometheus:v2\./);
  t.regex(services.grafana?.image ?? '', /^grafana\/grafana:/);

  // Prometheus: its config and the rules file it names, both from deploy/observability.
  const prometheusYml = mountedFile(services.prometheus, '/etc/prometheus/prometheus.yml');
  const config = parse(readFileSync(prometheusYml, 'utf8')) as PrometheusConfig;
  t.deepEqual(config.rule_files, ['alert-rules.yml']);
  t.is(
    mountedFile(services.prometheus, '/etc/prometheus/alert-rules.yml'),
    path.join(REPO_ROOT, 'deploy/observability/alert-rules.yml'),
    'the rules file is mounted beside the config that names it',
  );
  t.true((services.prometheus?.command ?? []).includes('--config.file=/etc/prometheus/prometheus.yml'));
  // Every replica: Docker's DNS answers the service name with one A record per container.
  for (const [job, port] of [
    ['user-service', 8001],
    ['product-service', 8002],
  ] as const) {
    const scrape = config.scrape_configs.find((candidate) => candidate.job_name === job);
    t.deepEqual(scrape?.dns_sd_configs, [{ names: [job], type: 'A', port, refresh_interval: '10s' }], job);
    t.is(services[job]?.environment?.PORT, String(port), `${job} listens where Prometheus looks`);
  }
  const rabbitmq = config.scrape_configs.find((candidate) => candidate.job_name === 'rabbitmq');
  t.is(rabbitmq?.metrics_path, '/metrics/per-object', 'per-queue series, as the alerts need');
  t.deepEqual(rabbitmq?.static_configs, [{ targets: ['rabbitmq:15692'] }]);

  // Grafana: datasources at the compose names, the dashboard folder where the provider reads.
  const provisioning = mountedFile(services.grafana, '/etc/grafana/provisioning');
  const datasources = parse(readFileSync(path.join(provisioning, 'datasources/datasources.yml'), 'utf8')) as {
    datasources: { type: string; url: string }[];
  };
  t.deepEqual(
    datasources.datasources.map(({ type, url }) => [type, url]),
    [
      ['prometheus', 'http://prometheus:9090'],
      ['jaeger', 'http://jaeger:16686'],
    ],
  );
  const providers = parse(readFileSync(path.join(provisioning, 'dashboards/dashboards.yml'), 'utf8')) as {
    providers: { options: { path: string } }[];
  };
  const dashboardsTarget = providers.providers[0]?.options.path ?? '';
  const dashboard = JSON.parse(
    readFileSync(path.join(mountedFile(services.grafana, dashboardsTarget), 'rabbitmq-rpc-shop.json'), 'utf8'),
  ) as { uid: string };
  t.is(dashboard.uid, 'rabbitmq-rpc-shop');
});

if (cli) {
  test(`OTEL_EXPORTER_OTLP_ENDPOINT in the CLI's environment (\`${cliName} config\`) → both services export to it`, async (t) => {
    const { services } = await resolvedByCli(['observability'], { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' });
    for (const name of ['user-service', 'product-service']) {
      t.is(services[name]?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger:4318', name);
    }
  });
}
