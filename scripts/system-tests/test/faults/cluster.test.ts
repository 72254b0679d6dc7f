import test, { type ExecutionContext } from 'ava';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { RabbitCluster, TestEnvironment, type RabbitNode } from '@shop/test-harness';

import {
  reportMissingTool,
  MISSING_RABBITMQ_SERVER,
  CLIENT_DEADLINE_MS,
  EventTap,
  ServiceProcess,
  WriteStream,
  eventually,
  logRecovery,
  statusCounts,
  storedProductNames,
  waitUntilHealthy,
  type WriteOutcome,
} from '../../src';

/**
 * A 3-node RabbitMQ cluster of our own (never the broker on 5672) with two user-service and two
 * product-service processes spread over its nodes, each given every node's URL in another order.
 * Each scenario takes a node away under a steady stream of authorised writes through both
 * product-service instances and checks what the issue asks of a cluster: clients are told only
 * 201 or 503, writes succeed again within 10 s, every acknowledged create's `product.created`
 * reaches a durable quorum queue exactly once after dedup, and logouts made around the fault
 * take effect on every instance. The node comes back before the next scenario.
 */

const RPC_TIMEOUT_MS = 1000;
/** The bound: writes succeed again this long after a node is lost, at most. */
const RECOVERY_BOUND_MS = 10_000;
const EVENTS_QUEUE = 'cluster-test.product-events';

interface ClusterSystem {
  cluster: RabbitCluster;
  users: ServiceProcess[];
  products: ServiceProcess[];
  productDatabaseUrl: string;
  credentials: { username: string; password: string };
  token: string;
}

let env: TestEnvironment | undefined;
let cluster: RabbitCluster | undefined;
let system: ClusterSystem | undefined;
const processes: ServiceProcess[] = [];

/** Every node's URL, starting at node `first`: the order one instance tries them in. */
function urlsFrom(nodes: readonly RabbitNode[], first: number): string {
  return [...nodes.slice(first), ...nodes.slice(0, first)].map((node) => node.amqpUrl).join(',');
}

async function startCluster(): Promise<void> {
  env = await TestEnvironment.start();
  cluster = await RabbitCluster.start({ size: 3, label: 'c' });
  const { nodes } = cluster;
  const databases = {
    user: env.databaseUrl(env.reserveDatabaseName('clusterusers')),
    product: env.databaseUrl(env.reserveDatabaseName('clusterproducts')),
  };
  // The subject cache kept long: a logout reaches the other user-service instance only through
  // its auth event (or the flush after a reconnect), which is what the logout checks test.
  const userEnv = (first: number) => ({
    DATABASE_URL: databases.user,
    AMQP_URL: urlsFrom(nodes, first),
    SECRET_KEY: 'cluster-test-secret-key-of-at-least-32-characters',
    BCRYPT_ROUNDS: '4',
    RATE_LIMIT_PER_MINUTE: '0',
    LOGIN_RATE_LIMIT_PER_USERNAME_PER_MINUTE: '0',
    TOKEN_SUBJECT_CACHE_TTL_MS: '600000',
  });
  // No validation cache: every write is a token check over the cluster.
  const productEnv = (first: number) => ({
    DATABASE_URL: databases.product,
    AMQP_URL: urlsFrom(nodes, first),
    AUTH_RPC_TIMEOUT_MS: String(RPC_TIMEOUT_MS),
    AUTH_CACHE_TTL_MS: '0',
  });
  // The first user-service declares the RPC queue: its leader is on node 1, which the first
  // scenario kills. One instance at a time: each migrates its database at start.
  const userA = await ServiceProcess.start('user-service', userEnv(0));
  processes.push(userA);
  await userA.waitForLog(/consuming token-validation requests/);
  const userB = await ServiceProcess.start('user-service', userEnv(1));
  processes.push(userB);
  const productA = await ServiceProcess.start('product-service', productEnv(2));
  processes.push(productA);
  await waitUntilHealthy(productA.baseUrl, 30_000);
  const productB = await ServiceProcess.start('product-service', productEnv(0));
  processes.push(productB);
  for (const service of processes) await waitUntilHealthy(service.baseUrl, 30_000);

  const credentials = { username: 'cluster_user', password: 'cluster-password-1' };
  await postJson(`${userA.baseUrl}/register`, credentials);
  const token = await login(userA, credentials);
  // Declared (quorum, durable, bound) before any write, so it sees every product event.
  const tap = await EventTap.open(nodes[1]?.amqpUrl ?? '', 'product.events', EVENTS_QUEUE, 'product.created', {
    queueType: 'quorum',
  });
  await tap.detach();
  system = {
    cluster,
    users: [userA, userB],
    products: [productA, productB],
    productDatabaseUrl: databases.product,
    credentials,
    token,
  };
}

if (RabbitCluster.isAvailable()) {
  test.before(startCluster);

  test.after.always(async () => {
    await Promise.all(processes.map((service) => service.stop('SIGKILL')));
    await cluster?.stop();
    await env?.close();
  });

  test.serial('kill -9 of the node hosting the RPC queue’s leader → writes recover, nothing lost', async (t) => {
    const running = context();
    const leader = await running.cluster.leaderOf('auth.validate_token');
    if (!leader) throw new Error('the RPC queue has no leader');
    t.log(`RPC queue leader on ${leader.name}`);
    await scenario(t, running, 'leader-kill', leader, () => {
      running.cluster.kill(leader);
      return Promise.resolve();
    });
  });

  test.serial('kill -9 of the node a product-service is connected to → writes recover, nothing lost', async (t) => {
    const running = context();
    const [product] = running.products;
    if (!product) throw new Error('no product-service');
    const node = connectedNode(running.cluster, product);
    t.log(`product-service ${product.pid} connected to ${node.name}`);
    await scenario(t, running, 'product-node-kill', node, () => {
      running.cluster.kill(node);
      return Promise.resolve();
    });
  });

  test.serial('graceful stop of the node hosting the RPC queue’s leader → writes recover, nothing lost', async (t) => {
    const running = context();
    const leader = await running.cluster.leaderOf('auth.validate_token');
    if (!leader) throw new Error('the RPC queue has no leader');
    t.log(`RPC queue leader on ${leader.name}`);
    await scenario(t, running, 'graceful-stop', leader, () => running.cluster.stopNode(leader));
  });
} else {
  reportMissingTool('3-node RabbitMQ cluster faults', MISSING_RABBITMQ_SERVER);
}

function context(): ClusterSystem {
  if (!system) throw new Error('the cluster system has not started');
  return system;
}

/**
 * One fault under load: write streams through both product-service instances, two logouts just
 * before and two just after the fault, then the node back for the next scenario.
 */
async function scenario(
  t: ExecutionContext,
  running: ClusterSystem,
  prefix: string,
  node: RabbitNode,
  fault: () => Promise<void>,
): Promise<void> {
  const sessions = await Promise.all(
    Array.from({ length: 4 }, (_, index) => login(running.users[index % 2] ?? fail(), running.credentials)),
  );
  // Every session's subject cached by both user-service instances before it is logged out.
  for (const token of sessions) {
    for (const user of running.users) t.like(await validate(user, token), { valid: true });
  }
  const streams = running.products.map(
    (product, index) =>
      new WriteStream({
        productUrl: product.baseUrl,
        token: running.token,
        concurrency: 2,
        prefix: `${prefix}-${index}`,
        clientDeadlineMs: CLIENT_DEADLINE_MS,
      }),
  );
  let restarted = false;
  const linesBefore = new Map(
    [...running.users, ...running.products].map((service) => [service, service.lines.length]),
  );
  try {
    await Promise.all(streams.map((stream) => stream.successesAfter(0, 5, 20_000)));
    await logout(running.users[0] ?? fail(), sessions[0] ?? fail());
    await logout(running.users[1] ?? fail(), sessions[1] ?? fail());

    const faultAt = streams.map((stream) => stream.now());
    await fault();
    await logout(running.users[0] ?? fail(), sessions[2] ?? fail());
    await logout(running.users[1] ?? fail(), sessions[3] ?? fail());

    // Traffic settled: 20 answers in a row were 201 on each stream (or the 10 s bound is long past).
    await Promise.all(
      streams.map((stream) =>
        eventually(
          () => lastAnswersAllCreated(stream.outcomes, 20),
          RECOVERY_BOUND_MS + 20_000,
          'writes flowing again',
        ),
      ),
    ).catch(async (error: unknown) => {
      logRecentLines(t, running);
      await logBrokerState(t, running.cluster);
      await keepLogs(t, running, prefix);
      throw error;
    });
    const outcomes = await Promise.all(streams.map((stream) => stream.stop()));
    logConnectionEvents(t, running, linesBefore);

    for (const [index, answers] of outcomes.entries()) {
      const since = faultAt[index] ?? 0;
      const recovery = recoveryTime(answers, since);
      logRecovery(t, `${prefix}, product-service ${index + 1}`, recovery);
      t.log(`answers: ${JSON.stringify(statusCounts(answers))}`);
      t.deepEqual(
        answers.filter((outcome) => outcome.status !== 201 && outcome.status !== 503),
        [],
        'only 201 or 503, never a 500, a 401 or a hang',
      );
      t.true(recovery <= RECOVERY_BOUND_MS, `writes succeed again within 10 s (took ${recovery} ms)`);
    }
    const acknowledged = outcomes
      .flat()
      .filter((outcome) => outcome.status === 201)
      .map((outcome) => outcome.name);
    const stored = (
      await Promise.all(streams.map((_, index) => storedProductNames(running.productDatabaseUrl, `${prefix}-${index}`)))
    ).flat();
    t.deepEqual([...stored].sort(), [...acknowledged].sort(), 'stored products = creates acknowledged with 201');

    await assertEventsExactlyOnce(t, running.cluster, prefix, acknowledged);

    // Each logout refused by both user-service instances (so by product-service, which asks them).
    for (const token of sessions) {
      for (const user of running.users) {
        await eventually(
          async () => !(await validate(user, token)).valid,
          RECOVERY_BOUND_MS,
          `a logout taking effect on user-service ${user.pid}`,
        );
      }
      await eventually(
        async () => (await createStatus(running.products[0] ?? fail(), token)) === 401,
        RECOVERY_BOUND_MS,
        'product-service refusing a logged-out token',
      );
    }
    t.pass('every logout made around the fault took effect on every instance');
    t.true(
      [...running.users, ...running.products].every((service) => service.running),
      'no process died',
    );
    await running.cluster.restart(node);
    restarted = true;
  } finally {
    await Promise.all(streams.map((stream) => stream.stop()));
    if (!restarted && node.pid === undefined) await running.cluster.restart(node);
  }
}

/** What each instance went through during the scenario: reconnects, and RPC channels replaced. */
function logConnectionEvents(t: ExecutionContext, running: ClusterSystem, since: Map<ServiceProcess, number>): void {
  for (const service of [...running.users, ...running.products]) {
    const lines = service.lines.slice(since.get(service) ?? 0);
    const count = (message: RegExp) => lines.filter((line) => message.test(line.msg)).length;
    t.log(
      `${service.name} ${service.pid}: ${count(/^reconnected to RabbitMQ/)} reconnects, ` +
        `${count(/on a new channel/)} RPC channels replaced, now on ${connectedNode(running.cluster, service).name}`,
    );
  }
}

/** Queues, consumers, channels and connections as a live node lists them, for a scenario that did not recover. */
async function logBrokerState(t: ExecutionContext, running: RabbitCluster): Promise<void> {
  const live = running.nodes.find((candidate) => candidate.pid !== undefined) ?? fail();
  const listings = [
    ['list_queues', 'name', 'type', 'leader', 'online', 'messages_ready', 'messages_unacknowledged', 'consumers'],
    ['list_consumers', 'queue_name', 'channel_pid', 'prefetch_count', 'active'],
    ['list_channels', 'pid', 'connection', 'consumer_count', 'messages_unacknowledged'],
    ['list_connections', 'pid', 'name', 'peer_port'],
  ];
  for (const args of listings) t.log(`${args[0]}:\n${await running.ctl(live, args)}`);
}

/** Every log line of every instance, written to a file for a scenario that did not recover. */
async function keepLogs(t: ExecutionContext, running: ClusterSystem, prefix: string): Promise<void> {
  const file = join(tmpdir(), `cluster-test-${prefix}-${process.pid}.log`);
  const lines = [...running.users, ...running.products].flatMap((service) =>
    service.lines.map((line) => `${service.name} ${service.pid} ${JSON.stringify(line)}`),
  );
  await writeFile(file, `${lines.join('\n')}\n`);
  t.log(`every service's log: ${file}`);
}

/** The services' last log lines, for a scenario that did not recover. */
function logRecentLines(t: ExecutionContext, running: ClusterSystem): void {
  for (const service of [...running.users, ...running.products]) {
    const recent = service.lines
      .filter(
        (line) => /RabbitMQ|consuming|channel|reply|RPC|queue/i.test(line.msg) && line.msg !== 'request completed',
      )
      .slice(-15);
    for (const line of recent) {
      t.log(`${service.name} ${service.pid}: ${line.msg} ${JSON.stringify({ broker: line.broker, err: line.err })}`);
    }
  }
}

/** Every acknowledged create's `product.created` is in the quorum queue, exactly once by event id. */
async function assertEventsExactlyOnce(
  t: ExecutionContext,
  running: RabbitCluster,
  prefix: string,
  acknowledged: string[],
): Promise<void> {
  const live = running.nodes.find((node) => node.pid !== undefined) ?? fail();
  const tap = await (
    await EventTap.open(live.amqpUrl, 'product.events', EVENTS_QUEUE, 'product.created', { queueType: 'quorum' })
  ).consume();
  try {
    const ours = () =>
      tap
        .distinct()
        .map((event) => (event.body.data.product as { name: string }).name)
        .filter((name) => name.startsWith(`${prefix}-`));
    await eventually(() => ours().length >= acknowledged.length, 20_000, 'every product.created arriving');
    // Whatever was still on its way arrives too, so a duplicate would show.
    await eventually(async () => (await tap.waiting()) === 0, 10_000, 'the events queue draining');
    const names = ours();
    t.deepEqual([...names].sort(), [...acknowledged].sort(), 'one product.created per acknowledged create');
    // Deliveries of this scenario's events only: an earlier scenario's that the tap had received
    // but not yet acked when it closed come again, and are not this scenario's business.
    const deliveries = tap.deliveries.filter((event) =>
      (event.body.data.product as { name: string }).name.startsWith(`${prefix}-`),
    );
    t.log(`product.created of this scenario: ${deliveries.length} deliveries, ${names.length} distinct events`);
  } finally {
    await tap.detach();
  }
}

/** The node a service is connected to now, from its last "connected" log line (the broker URL's port). */
function connectedNode(running: RabbitCluster, service: ServiceProcess): RabbitNode {
  const line = [...service.lines].reverse().find((entry) => /^(re)?connected to RabbitMQ/.test(entry.msg));
  const port = line ? new URL(String(line.broker)).port : '';
  const node = running.nodes.find((candidate) => String(candidate.port) === port);
  if (!node) throw new Error(`cannot tell which node ${service.name} ${service.pid} is connected to`);
  return node;
}

/** ms from `since` to the first 201 after the last failure; 0 when nothing failed. */
function recoveryTime(outcomes: readonly WriteOutcome[], since: number): number {
  const after = outcomes.filter((outcome) => outcome.at > since).sort((a, b) => a.at - b.at);
  const lastFailure = after.filter((outcome) => outcome.status !== 201).at(-1);
  if (!lastFailure) return 0;
  const recovered = after.find((outcome) => outcome.status === 201 && outcome.at > lastFailure.at);
  return (recovered?.at ?? Number.POSITIVE_INFINITY) - since;
}

function lastAnswersAllCreated(outcomes: readonly WriteOutcome[], count: number): boolean {
  const last = outcomes.slice(-count);
  return last.length === count && last.every((outcome) => outcome.status === 201);
}

async function postJson(url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(CLIENT_DEADLINE_MS),
  });
}

async function login(user: ServiceProcess, credentials: { username: string; password: string }): Promise<string> {
  const response = await postJson(`${user.baseUrl}/login`, credentials);
  if (response.status !== 200) throw new Error(`login answered ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function logout(user: ServiceProcess, token: string): Promise<void> {
  const response = await fetch(`${user.baseUrl}/logout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(CLIENT_DEADLINE_MS),
  });
  if (response.status !== 204) throw new Error(`logout answered ${response.status}`);
}

async function validate(user: ServiceProcess, token: string): Promise<{ valid: boolean }> {
  const response = await postJson(`${user.baseUrl}/validate-token`, { token });
  return (await response.json()) as { valid: boolean };
}

async function createStatus(product: ServiceProcess, token: string): Promise<number> {
  const response = await postJson(
    `${product.baseUrl}/products`,
    { name: 'logout-probe', price: 1, quantity: 1 },
    token,
  );
  await response.arrayBuffer();
  return response.status;
}

function fail(): never {
  throw new Error('the cluster system is missing an instance');
}
