import { readFileSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from './service-process';

export interface WalkthroughStep {
  /** The shell commands of one ```sh block. */
  command: string;
  /** The response block printed after it in the README, if any. */
  expected?: { language: 'json' | 'text'; body: string };
}

/** The ```sh blocks between the walkthrough markers of README.md, each with its response block. */
export function readWalkthrough(readmePath = path.join(REPO_ROOT, 'README.md')): WalkthroughStep[] {
  const readme = readFileSync(readmePath, 'utf8');
  const start = readme.indexOf('<!-- walkthrough:start -->');
  const end = readme.indexOf('<!-- walkthrough:end -->');
  if (start < 0 || end < start) throw new Error('README.md has no walkthrough markers');
  const blocks = [...readme.slice(start, end).matchAll(/```(sh|json|text)\n([\s\S]*?)```/g)].map((match) => ({
    language: match[1] as 'sh' | 'json' | 'text',
    body: match[2] ?? '',
  }));
  const steps: WalkthroughStep[] = [];
  for (const block of blocks) {
    if (block.language === 'sh') steps.push({ command: block.body });
    else {
      const last = steps.at(-1);
      if (!last || last.expected) throw new Error('a response block in the README follows no command');
      last.expected = { language: block.language, body: block.body };
    }
  }
  return steps;
}

/** Fields that differ on every run; the README shows a sample value, the test ignores it. */
const VOLATILE_FIELDS = new Set(['created_at', 'updated_at', 'request_id', 'access_token']);

/** A response with its volatile fields masked, for comparing a run against the README. */
export function maskVolatile(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskVolatile);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, field]) => [key, VOLATILE_FIELDS.has(key) ? '<varies>' : maskVolatile(field)]),
    );
  }
  return value;
}
