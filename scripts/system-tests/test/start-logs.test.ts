import test from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO_ROOT } from '../src';

/** What `npm start` does with a service's stdout at a terminal (scripts/log-output.mjs). */
const LOG_OUTPUT = pathToFileURL(path.join(REPO_ROOT, 'scripts/log-output.mjs')).href;

/** The escape character that starts an ANSI colour code (`ESC[32m`: green). */
const ESC = String.fromCharCode(27);
const ANSI_COLOUR = new RegExp(`${ESC}\\[\\d+m`, 'g');

/** Two lines as user-service writes them, then one that is not JSON. */
const SERVICE_OUTPUT = [
  JSON.stringify({
    level: 30,
    time: '2026-11-29T21:00:00.000Z',
    pid: 4242,
    hostname: 'vm',
    service: 'user-service',
    version: '1.0.0',
    port: 8001,
    msg: 'user-service listening',
  }),
  JSON.stringify({
    level: 50,
    time: '2026-11-29T21:00:01.000Z',
    pid: 4242,
    hostname: 'vm',
    service: 'user-service',
    version: '1.0.0',
    request_id: 'req-1',
    msg: 'database unavailable',
  }),
  'plain text from a library',
].join('\n');

/** Runs `script` as an ES module with `input` on stdin; resolves with its stdout. */
function runModule(script: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`exited with ${String(code)}`));
    });
    child.stdin.end(input);
  });
}

test('npm start at a terminal → every JSON log line is shown coloured: level, service | message, then its fields', async (t) => {
  const shown = await runModule(
    `import { copyLines, prettyFormatter } from '${LOG_OUTPUT}';\n` +
      'copyLines(process.stdin, process.stdout, prettyFormatter());',
    SERVICE_OUTPUT,
  );
  const plain = shown.replaceAll(ANSI_COLOUR, '');

  t.true(shown.includes(`${ESC}[32mINFO${ESC}[39m`), 'INFO in green');
  t.true(shown.includes(`${ESC}[31mERROR${ESC}[39m`), 'ERROR in red');
  t.regex(plain, /^\[\d\d:\d\d:\d\d\.000\] INFO: user-service \| user-service listening\n {4}port: 8001$/m);
  t.regex(plain, /ERROR: user-service \| database unavailable\n {4}request_id: "req-1"$/m);
  t.regex(plain, /^plain text from a library$/m, 'a line that is not JSON passes unchanged');
  t.notRegex(plain, /hostname|pid|version/, 'no noise fields');
});
