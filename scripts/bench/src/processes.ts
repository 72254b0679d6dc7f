import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { labelProcess, type WindowMark } from './cpu-usage';

/** Every child the bench started and that has not exited: killed on Ctrl-C and at the end. */
const live = new Set<ChildProcess>();

/** Spawns `node <script>` and tracks the child until it exits. */
export function spawnNode(
  script: string,
  args: string[],
  options: SpawnOptions & { nodeArgs?: string[] },
): ChildProcess {
  const { nodeArgs = [], ...spawnOptions } = options;
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...spawnOptions,
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Sends `signal` to every live child; used when the bench is interrupted. */
export function killAllChildren(signal: NodeJS.Signals): void {
  for (const child of live) child.kill(signal);
}

// A crash of the bench itself must not leave services or load generators behind.
process.once('exit', () => {
  killAllChildren('SIGKILL');
});

/** Node flags for workers and baselines: `--cpu-prof` when the run is profiled. */
let workerNodeArgs: string[] = [];

/** Makes every worker and baseline started from now on write a CPU profile into `dir` at exit. */
export function profileWorkersInto(dir: string): void {
  workerNodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** Path of a compiled worker or baseline entry point, e.g. `workers/http-load`. */
export function entryPoint(name: string): string {
  return path.join(__dirname, `${name}.js`);
}

/**
 * Runs a one-shot worker (`dist/src/<name>.js`): it gets `input` as JSON in argv[2] and prints
 * its result as the last line of stdout, and may mark its measured window with
 * {@link markWindow} (passed on to `onMark`). Resolves with that result; rejects with its
 * stderr when it fails. The result is trusted as `T`: the worker is our own code, built with this.
 */
export function runWorker<T>(name: string, input: unknown, onMark?: (mark: WindowMark) => void): Promise<T> {
  const child = spawnNode(entryPoint(name), [JSON.stringify(input)], { nodeArgs: workerNodeArgs });
  labelProcess(child.pid, 'load generator');
  let last = '';
  let stderr = '';
  const lines = child.stdout ? createInterface({ input: child.stdout }) : undefined;
  lines?.on('line', (line) => {
    const mark = markOf(line);
    if (mark) onMark?.(mark);
    else if (line.trim()) last = line;
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<T>((resolve, reject) => {
    child.once('error', reject);
    // 'close', not 'exit': by then stdout has ended and every line has been read.
    child.once('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`${name} exited with ${signal ?? String(code)}: ${stderr.trim().slice(-2000)}`));
        return;
      }
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${name} printed no JSON result: ${last.slice(-500)} ${stderr.slice(-500)}`));
      }
    });
  });
}

/** A long-running child: a service or a baseline server. */
export interface RunningProcess {
  readonly pid: number;
  /** Resident set size now (`VmRSS` of /proc/<pid>/status), in bytes. */
  rssBytes(): number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** Output kept for error messages. */
  readonly output: () => string;
}

export function track(child: ChildProcess): RunningProcess {
  let output = '';
  const keep = (chunk: Buffer) => {
    // Only the tail matters, for the error message of a service that died.
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else
      child.once('exit', () => {
        resolve();
      });
  });
  return {
    pid: child.pid ?? -1,
    rssBytes: () => readRssBytes(child.pid ?? -1),
    output: () => output,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `VmRSS` of a process, in bytes; 0 when it cannot be read (not Linux, or the process is gone). */
export function readRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
    return kib ? Number(kib) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Starts a baseline server (`dist/src/<name>.js`) and waits for its ready line on stdout,
 * `{"ready":true,"port":N}`. The baseline gets `input` as JSON in argv[2].
 */
export async function startServerWorker(
  name: string,
  input: unknown,
  timeoutMs = 20_000,
): Promise<RunningProcess & { port: number }> {
  const child = spawnNode(entryPoint(name), [JSON.stringify(input)], { nodeArgs: workerNodeArgs });
  labelProcess(child.pid, name.replace(/^baselines\//, ''));
  const handle = track(child);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name} was not ready within ${timeoutMs} ms: ${handle.output()}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${String(code)}) before it was ready: ${handle.output()}`));
    });
    if (!child.stdout) throw new Error('spawned without stdout');
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const message = JSON.parse(line) as { ready?: unknown; port?: unknown };
        if (message.ready === true) {
          clearTimeout(timer);
          resolve(typeof message.port === 'number' ? message.port : 0);
        }
      } catch {
        // Not the ready line.
      }
    });
  });
  return Object.assign(handle, { port });
}

/** What a baseline server prints once it can take work. */
export function announceReady(port = 0): void {
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
}

/**
 * The JSON input a worker or baseline was started with. The caller asserts its type: the
 * parent that wrote it is this same build, typed against the same interface.
 */
export function workerInput(): unknown {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('started without its JSON input (argv[2])');
  return JSON.parse(raw) as unknown;
}

const MARK_PREFIX = '{"mark":';

function markOf(line: string): WindowMark | undefined {
  if (!line.startsWith(MARK_PREFIX)) return undefined;
  const { mark } = JSON.parse(line) as { mark: unknown };
  return mark === 'start' || mark === 'end' ? mark : undefined;
}

/** Tells the parent that the measured window starts or ends now (it samples CPU use there). */
export function markWindow(mark: WindowMark): void {
  process.stdout.write(`${JSON.stringify({ mark })}\n`);
}

/** Prints a worker's result as the last line of stdout and exits. */
export function finishWorker(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}
