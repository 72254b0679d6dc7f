import { execFileSync } from 'node:child_process';

import { REPO_ROOT } from './options';

/** Which code was measured: the commit, and the files under the services that differed from it. */
export interface Revision {
  commit: string;
  /** Uncommitted changes under the measured packages (`git status --porcelain`), e.g. "M user-service/src/app.ts". */
  uncommitted: string[];
}

const MEASURED = ['user-service', 'product-service', 'shared-contracts', 'shared-runtime'];

export function describeRevision(): Revision {
  const git = (args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  try {
    return {
      commit: git(['rev-parse', '--short', 'HEAD']),
      uncommitted: git(['status', '--porcelain', '--', ...MEASURED])
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.length > 0),
    };
  } catch {
    // Not a git checkout (an unpacked tarball): the numbers stand without a commit.
    return { commit: 'unknown', uncommitted: [] };
  }
}
