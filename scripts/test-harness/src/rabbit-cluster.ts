import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { freePort } from './free-port';

const run = promisify(execFile);

/** Debian's `rabbitmq-server` package, run directly: the `/usr/sbin` wrappers switch user. */
const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';
/** Every run's folder starts with this, so a later run can find and stop what a crashed one left. */
const FOLDER_PREFIX = 'shop-rabbit-';

/** One private RabbitMQ node of a {@link RabbitCluster}. */
export interface RabbitNode {
  /** Erlang node name, e.g. `shop1a2b-1@localhost`. */
  readonly name: string;
  /** Its AMQP port on 127.0.0.1. */
  readonly port: number;
  readonly amqpUrl: string;
  /** The Erlang VM's OS pid while the node runs. */
  pid: number | undefined;
}

/**
 * Private RabbitMQ nodes on this machine, for tests that kill, stop or alarm a broker: never the
 * broker on 5672, which other tests and a developer's stack share. Each node runs Debian's
 * `rabbitmq-server` as a child process with its own name, ports, data folder and Erlang cookie (a
 * cookie the shared broker does not have, so no command of ours can reach it). Every node is
 * stopped by its pid in {@link stop}; a run that died without stopping its nodes has them stopped by
 * the next run that starts a cluster.
 */
export class RabbitCluster {
  /** The nodes in the order they were started; the first is the one the others joined. */
  readonly nodes: RabbitNode[] = [];
  private readonly children = new Map<string, ChildProcess>();

  private constructor(
    private readonly folder: string,
    private readonly prefix: string,
  ) {}

  /** Whether this machine has the package the nodes run from (the tests skip with a message if not). */
  static isAvailable(): boolean {
    return existsSync(join(RABBITMQ_BIN, 'rabbitmq-server'));
  }

  /**
   * Starts `size` nodes (in turn: each takes 5–7 s here) and joins them into one cluster. On any
   * failure the nodes already started are stopped before the error is thrown.
   */
  static async start(options: { size: number; label?: string }): Promise<RabbitCluster> {
    await stopLeftovers();
    const id = randomBytes(3).toString('hex');
    const prefix = `shop${options.label ?? ''}${id}`;
    const folder = join(tmpdir(), `${FOLDER_PREFIX}${id}`);
    await mkdir(folder, { recursive: true });
    // One cookie for our nodes and our CLI calls; HOME is where both look for it.
    await writeFile(join(folder, '.erlang.cookie'), randomBytes(20).toString('hex').toUpperCase(), { mode: 0o400 });
    await writeFile(join(folder, 'rabbitmq-env.conf'), '');
    await writeFile(join(folder, 'owner.pid'), String(process.pid));
    const cluster = new RabbitCluster(folder, prefix);
    try {
      const seed = await cluster.launch(`${prefix}-1@localhost`, await freePort(), await freePort());
      for (let index = 2; index <= options.size; index += 1) {
        const node = await cluster.launch(`${prefix}-${index}@localhost`, await freePort(), await freePort());
        await cluster.join(node, seed);
      }
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Every node's AMQP URL, comma-separated, as `AMQP_URL` takes a cluster. */
  get amqpUrls(): string {
    return this.nodes.map((node) => node.amqpUrl).join(',');
  }

  /** Runs `rabbitmqctl` (or another CLI tool) against one of our nodes; resolves to its stdout. */
  async ctl(node: RabbitNode, args: string[], tool = 'rabbitmqctl'): Promise<string> {
    const { stdout } = await run(join(RABBITMQ_BIN, tool), ['-n', node.name, ...args], {
      env: this.environment(),
      timeout: 60_000,
    });
    return stdout;
  }

  /** `kill -9` of the node's VM: no goodbye to clients or peers. */
  kill(node: RabbitNode): void {
    if (node.pid !== undefined) killQuietly(node.pid, 'SIGKILL');
    node.pid = undefined;
  }

  /** A graceful `rabbitmqctl stop` of one node. */
  async stopNode(node: RabbitNode): Promise<void> {
    await this.ctl(node, ['stop']).catch(() => {
      this.kill(node);
    });
    node.pid = undefined;
  }

  /** Starts a node again that was killed or stopped, on the same ports and data (it rejoins). */
  async restart(node: RabbitNode): Promise<void> {
    await this.launch(node.name, node.port, undefined, node);
  }

  /** The node (one of ours) hosting a queue's leader, or its only copy for a classic queue. */
  async leaderOf(queue: string, vhost = '/'): Promise<RabbitNode | undefined> {
    const live = this.nodes.find((node) => node.pid !== undefined);
    if (!live) return undefined;
    const listing = await this.ctl(live, [
      'list_queues',
      '-p',
      vhost,
      'name',
      'type',
      'leader',
      'pid',
      '-q',
      '--no-table-headers',
    ]);
    const line = listing.split('\n').find((row) => row.split('\t')[0] === queue);
    if (!line) return undefined;
    return this.nodes.find((node) => line.includes(node.name));
  }

  /** Stops every node by its pid (SIGTERM, then SIGKILL) and removes the run's folder. */
  async stop(): Promise<void> {
    for (const node of this.nodes) {
      if (node.pid !== undefined) killQuietly(node.pid, 'SIGTERM');
    }
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              resolve();
              return;
            }
            const timer = setTimeout(() => {
              child.kill('SIGKILL');
              resolve();
            }, 10_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    // Also a VM whose pid we never learnt (a node that failed to boot).
    for (const pid of await vmPidsOf(this.folder)) killQuietly(pid, 'SIGKILL');
    for (const node of this.nodes) node.pid = undefined;
    await rm(this.folder, { recursive: true, force: true });
  }

  private environment(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.folder,
      // An empty env file: the system one forces the default node name.
      RABBITMQ_CONF_ENV_FILE: join(this.folder, 'rabbitmq-env.conf'),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      ERL_FLAGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      LANG: 'C.UTF-8',
    };
  }

  private async launch(name: string, port: number, distPort?: number, existing?: RabbitNode): Promise<RabbitNode> {
    const base = join(this.folder, name.replace(/@.*$/, ''));
    await mkdir(join(base, 'log'), { recursive: true });
    const dist = distPort ?? Number(await readFile(join(base, 'dist-port'), 'utf8'));
    await writeFile(join(base, 'dist-port'), String(dist));
    await writeFile(
      join(base, 'rabbitmq.conf'),
      [`listeners.tcp.1 = 127.0.0.1:${port}`, 'loopback_users = none', 'log.console = false', ''].join('\n'),
    );
    await writeFile(join(base, 'enabled_plugins'), '[].\n');
    const output = openSync(join(base, 'log', 'console.log'), 'a');
    const child = spawn(join(RABBITMQ_BIN, 'rabbitmq-server'), [], {
      env: {
        ...this.environment(),
        RABBITMQ_NODENAME: name,
        RABBITMQ_NODE_PORT: String(port),
        RABBITMQ_DIST_PORT: String(dist),
        RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
        RABBITMQ_LOG_BASE: join(base, 'log'),
        RABBITMQ_CONFIG_FILE: join(base, 'rabbitmq.conf'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
      },
      stdio: ['ignore', output, output],
    });
    this.children.set(name, child);
    const node: RabbitNode = existing ?? {
      name,
      port,
      amqpUrl: `amqp://guest:guest@127.0.0.1:${port}`,
      pid: undefined,
    };
    if (!existing) this.nodes.push(node);
    await this.awaitStartup(node, child, join(base, 'log', 'console.log'));
    node.pid = Number((await this.ctl(node, ['eval', 'list_to_integer(os:getpid()).'])).trim());
    return node;
  }

  /**
   * Waits until the node has booted: `await_startup` refuses a node that has not registered with
   * epmd yet, so it is retried until the node answers, dies, or 90 s pass.
   */
  private async awaitStartup(node: RabbitNode, child: ChildProcess, logFile: string): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        throw new Error(`RabbitMQ node ${node.name} exited while starting:\n${log.slice(-2000)}`);
      }
      try {
        await this.ctl(node, ['await_startup', '--timeout', '30']);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async join(node: RabbitNode, seed: RabbitNode): Promise<void> {
    await this.ctl(node, ['stop_app']);
    await this.ctl(node, ['reset']);
    await this.ctl(node, ['join_cluster', seed.name]);
    await this.ctl(node, ['start_app']);
    await this.ctl(node, ['await_startup', '--timeout', '60']);
  }
}

/** Stops the nodes of earlier runs whose test process is gone, and removes their folders. */
async function stopLeftovers(): Promise<void> {
  const entries = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const entry of entries.filter((name) => name.startsWith(FOLDER_PREFIX))) {
    const folder = join(tmpdir(), entry);
    const owner = Number(await readFile(join(folder, 'owner.pid'), 'utf8').catch(() => 'NaN'));
    if (Number.isInteger(owner) && isAlive(owner)) continue;
    for (const pid of await vmPidsOf(folder)) killQuietly(pid, 'SIGKILL');
    await rm(folder, { recursive: true, force: true });
  }
}

/** The processes whose command line names the folder: the VMs (and scripts) of that run's nodes. */
async function vmPidsOf(folder: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = commandLine.split('\0');
    if (args.some((arg) => arg === folder || arg.startsWith(`${folder}/`))) pids.push(Number(entry));
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}
