import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One finding of `redocly lint`. */
export interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  /** Where in the document, as a JSON pointer (`#/paths/~1login/post`). */
  pointer: string;
}

interface RedoclyReport {
  problems: { ruleId: string; severity: 'error' | 'warn'; message: string; location: { pointer: string }[] }[];
}

/** The Redocly CLI's entry script, from the installed `@redocly/cli` package. */
function redoclyCli(): string {
  return path.join(path.dirname(require.resolve('@redocly/cli/package.json')), 'bin/cli.js');
}

export interface LintOptions {
  /**
   * The tag of operations allowed to have no 4xx response (health, metrics, the docs: nothing a
   * client sends can be wrong), whose `operation-4xx-response` warnings are left out.
   */
  tagWithout4xx?: string;
}

/**
 * Runs `redocly lint` with its recommended rules on `document` and returns every problem found
 * (errors and warnings), less those `options` expects. The document is written to a fresh
 * temporary folder, which is also the working directory, so no `redocly.yaml` of the repository
 * changes the rules.
 */
export async function lintOpenApi(document: object, options: LintOptions = {}): Promise<LintProblem[]> {
  const problems = await runRedoclyLint(document);
  return problems.filter(
    (problem) =>
      !(
        options.tagWithout4xx !== undefined &&
        problem.ruleId === 'operation-4xx-response' &&
        operationTags(document, problem.pointer).includes(options.tagWithout4xx)
      ),
  );
}

/** The tags of the operation `pointer` (`#/paths/~1health/get/responses`) lies in. */
function operationTags(document: object, pointer: string): string[] {
  const [, paths, path, method] = pointer.split('/').map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (paths !== 'paths' || path === undefined || method === undefined) return [];
  const operations = (document as { paths?: Record<string, Record<string, { tags?: string[] }>> }).paths;
  return operations?.[path]?.[method]?.tags ?? [];
}

async function runRedoclyLint(document: object): Promise<LintProblem[]> {
  const folder = await mkdtemp(path.join(tmpdir(), 'openapi-lint-'));
  try {
    const file = path.join(folder, 'openapi.json');
    await writeFile(file, JSON.stringify(document, null, 2));
    const { stdout } = await run(
      process.execPath,
      [redoclyCli(), 'lint', file, '--extends=recommended', '--format=json', '--max-problems=1000'],
      {
        cwd: folder,
        // No usage reports and no update check: tests reach nothing beyond this machine.
        env: { PATH: process.env.PATH ?? '', REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        maxBuffer: 16 * 1024 * 1024,
      },
    ).catch((error: unknown) => {
      // Exit code 1 means "errors found": the report is still on stdout.
      const { stdout: reported, stderr } = error as { stdout?: string; stderr?: string };
      if (reported?.trimStart().startsWith('{')) return { stdout: reported };
      throw new Error(`redocly lint failed: ${stderr ?? String(error)}`);
    });
    const report = JSON.parse(stdout) as RedoclyReport;
    return report.problems.map((problem) => ({
      ruleId: problem.ruleId,
      severity: problem.severity,
      message: problem.message,
      pointer: problem.location[0]?.pointer ?? '',
    }));
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
