import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { REPO_ROOT } from './service-process';

const run = promisify(execFile);

/** The runtime stage's files and start-up, reproduced in a folder on this host (no image). */
export interface RuntimeStageReplay {
  /** The folder standing in for the image's `/`. */
  root: string;
  /** The final WORKDIR, inside `root`. */
  workdir: string;
  env: Record<string, string>;
  cmd: string[];
  healthcheck: string[];
}

/**
 * Runs the commands of a Dockerfile's last stage on this host, in a temporary folder: COPY from
 * the build context, RUN in the WORKDIR (the production `npm ci`), and the ENV, CMD and
 * HEALTHCHECK it declares, for the caller to run. No image is built and this is not the image:
 * - `FROM` is ignored: the host's Node and OS stand in for the base image;
 * - `USER` is ignored: everything runs as the current user;
 * - `COPY --from=build` copies this checkout's own build output (`npm run build` before the
 *   tests), not what the build stage would produce, so a broken build stage is not caught here.
 * Only the instructions our Dockerfiles use are understood; anything else fails loudly.
 */
export async function replayRuntimeStage(dockerfilePath: string): Promise<RuntimeStageReplay> {
  const text = (await readFile(dockerfilePath, 'utf8')).replace(/\\\n\s*/g, ' ');
  const stages = text.split(/^FROM /m);
  const runtime = (stages.at(-1) ?? '').split('\n').slice(1);
  const root = await mkdtemp(path.join(tmpdir(), 'image-'));
  const image: RuntimeStageReplay = { root, workdir: root, env: {}, cmd: [], healthcheck: [] };

  for (const rawLine of runtime) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [instruction = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (instruction) {
      case 'ENV': {
        const [name, value] = args.split('=');
        if (name && value !== undefined) image.env[name] = value;
        break;
      }
      case 'WORKDIR':
        image.workdir = path.join(root, args);
        await mkdir(image.workdir, { recursive: true });
        break;
      case 'COPY': {
        const fromBuild = args.startsWith('--from=build ');
        const parts = (fromBuild ? args.slice('--from=build '.length) : args).split(/\s+/);
        const destination = parts.pop() ?? '.';
        const target = path.isAbsolute(destination)
          ? path.join(root, destination)
          : path.join(image.workdir, destination);
        for (const source of parts) {
          // `/app/...` of the build stage stands for this checkout's own build, not the stage's.
          const from = fromBuild ? path.join(REPO_ROOT, path.relative('/app', source)) : path.join(REPO_ROOT, source);
          const to = destination.endsWith('/') ? path.join(target, path.basename(source)) : target;
          await mkdir(path.dirname(to), { recursive: true });
          await cp(from, to, { recursive: true });
        }
        break;
      }
      case 'RUN':
        for (const command of args.split('&&').map((part) => part.trim())) {
          // Cleaning the cache would empty this machine's npm cache, not an image layer's.
          if (command.startsWith('npm cache clean')) continue;
          await run('sh', ['-c', command], {
            cwd: image.workdir,
            env: { ...process.env, ...image.env },
            timeout: 300_000,
          });
        }
        break;
      case 'CMD':
        image.cmd = JSON.parse(args) as string[];
        break;
      case 'HEALTHCHECK':
        image.healthcheck = JSON.parse(args.slice(args.indexOf('CMD ') + 4)) as string[];
        break;
      // Not honoured: the processes run as the current user, on the host's network.
      case 'USER':
      case 'EXPOSE':
        break;
      default:
        throw new Error(`replayRuntimeStage does not understand: ${line}`);
    }
  }
  return image;
}
