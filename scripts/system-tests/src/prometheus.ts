import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Whether Debian's `prometheus` package (promtool and the server) is installed. */
export function prometheusInstalled(): boolean {
  return (
    spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0 &&
    spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0
  );
}

/** Runs promtool; resolves with its output, rejects with it (stdout and stderr) on a non-zero exit. */
export async function promtool(args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd });
    return stdout + stderr;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${stdout}${stderr}`);
  }
}

/** A port nobody listens on right now, on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A Prometheus server this test started, with its own config and storage in a temp folder. */
export class PrometheusServer {
  private constructor(
    readonly baseUrl: string,
    private readonly child: ChildProcess,
    private readonly folder: string,
    private readonly output: () => string,
  ) {}

  /**
   * Starts `prometheus` on a free port of 127.0.0.1 with `config` (YAML text), and waits until
   * it is ready. Stop it with {@link stop}.
   */
  static async start(config: string, timeoutMs = 30_000): Promise<PrometheusServer> {
    const folder = await mkdtemp(path.join(tmpdir(), 'prometheus-test-'));
    const configFile = path.join(folder, 'prometheus.yml');
    await writeFile(configFile, config);
    const port = await freePort();
    const child = spawn(
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(folder, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.removeListener('exit', killOnExit));
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, child, folder, () => output);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = await fetch(`${server.baseUrl}/-/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return server;
      if (child.exitCode !== null || Date.now() > deadline) {
        await server.stop();
        throw new Error(`prometheus did not become ready:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** What the server printed (its log), for a failing test to show. */
  get log(): string {
    return this.output();
  }

  /** An instant query; resolves with the result vector (or scalar as one element). */
  async query(expr: string): Promise<unknown[]> {
    const response = await fetch(`${this.baseUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; error?: string; data?: { result: unknown } };
    if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error ?? response.status}`);
    const result = body.data?.result;
    return Array.isArray(result) ? (result as unknown[]) : [result];
  }

  /** GET on the HTTP API, `data` of the answer. */
  async api<T>(pathAndQuery: string): Promise<T> {
    const response = await fetch(`${this.baseUrl}/api/v1/${pathAndQuery}`);
    return ((await response.json()) as { data: T }).data;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    await rm(this.folder, { recursive: true, force: true });
  }
}
