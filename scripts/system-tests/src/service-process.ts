import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** The repository root, from `scripts/system-tests/dist/src`. */
export const REPO_ROOT = path.resolve(__dirname, '../../../..');

export type ServiceName = 'user-service' | 'product-service';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/**
 * One service running as a real process (`node dist/src/main.js`, as `npm start` runs it),
 * with its JSON log lines collected for assertions.
 */
export class ServiceProcess {
  readonly lines: LogLine[] = [];
  private stderrText = '';
  private readonly exit: Promise<number | null>;
  port = 0;

  private constructor(
    readonly name: ServiceName,
    /** The environment it was started with, so it can be started again the same way. */
    readonly env: Record<string, string>,
    private readonly child: ChildProcess,
    stdout: Readable,
    stderr: Readable,
  ) {
    createInterface({ input: stdout }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        this.stderrText += `${line}\n`;
      }
    });
    stderr.on('data', (chunk: Buffer) => {
      this.stderrText += chunk.toString();
    });
    this.exit = new Promise((resolve) => {
      child.on('exit', (code) => {
        resolve(code);
      });
    });
  }

  /** Starts the built service on an ephemeral port and waits until it listens. */
  static async start(name: ServiceName, env: Record<string, string>): Promise<ServiceProcess> {
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      cwd: path.join(REPO_ROOT, name),
      env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new ServiceProcess(name, env, child, child.stdout, child.stderr);
    // Whatever happens to the test, the service does not outlive the test process.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.removeListener('exit', killOnExit));
    const listening = await service.waitForLog(/listening/);
    service.port = Number(listening.port);
    return service;
  }

  /** Starts another process of the same service with the same environment. */
  startAnother(): Promise<ServiceProcess> {
    return ServiceProcess.start(this.name, this.env);
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get stderr(): string {
    return this.stderrText;
  }

  get exited(): Promise<number | null> {
    return this.exit;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a log line whose message matches; fails early if the process dies. */
  async waitForLog(message: RegExp, timeoutMs = 30_000, since = 0): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.slice(since).find((line) => message.test(line.msg));
      if (found) return found;
      if (!this.running) throw new Error(`${this.name} exited before logging ${message}: ${this.stderrText}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not log ${message} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Sends a signal and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exit;
  }
}
