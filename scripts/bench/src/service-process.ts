import path from 'node:path';

import { freePort } from '@shop/test-harness';

import { REPO_ROOT } from './options';
import { labelProcess } from './cpu-usage';
import { spawnNode, track, type RunningProcess } from './processes';

export type ServiceName = 'user-service' | 'product-service';

export interface BenchService extends RunningProcess {
  readonly name: ServiceName;
  readonly baseUrl: string;
}

/**
 * Starts a built service (`node dist/src/main.js`, as `npm start` does) and waits until its
 * `GET /health` answers 200 (database and broker up). At LOG_LEVEL=warn a service logs no
 * "listening" line to read the port from, so the port is chosen here: one the OS just handed
 * out and released.
 */
export async function startService(
  name: ServiceName,
  env: Record<string, string>,
  options: {
    profileDir?: string | undefined;
    nodeArgs?: string[];
    /** Name in the CPU shares, when not the service's. */
    label?: string;
  } = {},
): Promise<BenchService> {
  const port = await freePort();
  const child = spawnNode('dist/src/main.js', [], {
    // The profile is written when the service exits, which its graceful shutdown does on SIGTERM.
    nodeArgs: [
      ...(options.nodeArgs ?? []),
      ...(options.profileDir
        ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${name}.${port}.cpuprofile`]
        : []),
    ],
    cwd: path.join(REPO_ROOT, name),
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
  });
  labelProcess(child.pid, options.label ?? name);
  const handle = track(child);
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited before it was healthy: ${handle.output().trim()}`);
    }
    const status = await fetch(`${baseUrl}/health`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) break;
    if (Date.now() > deadline) {
      await handle.stop(0);
      throw new Error(`${name} /health still answers ${status} after 30 s: ${handle.output().trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Object.assign(handle, { name, baseUrl });
}
