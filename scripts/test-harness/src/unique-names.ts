import { randomBytes } from 'node:crypto';

/** Prefix of every database the harness creates, so stale ones can be found and dropped. */
export const TEST_DATABASE_PREFIX = 'shoptest_';

/**
 * A name unique to this test process: the creation time (seconds since the epoch, so a
 * later run can tell stale leftovers from a neighbour's live databases), the pid and
 * random bits (so two processes started in the same second never collide).
 */
export function createRunId(now: Date = new Date()): string {
  const seconds = Math.floor(now.getTime() / 1000).toString(36);
  return `${seconds}_${process.pid.toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** Reads back the creation time encoded by {@link createRunId}, or undefined for foreign names. */
export function runIdCreatedAt(runId: string): Date | undefined {
  const seconds = Number.parseInt(runId.split('_')[0] ?? '', 36);
  return Number.isFinite(seconds) ? new Date(seconds * 1000) : undefined;
}

/** PostgreSQL identifiers are at most 63 bytes; labels are short lowercase words. */
export function testDatabaseName(label: string, runId: string): string {
  const safeLabel = label
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 16);
  return `${TEST_DATABASE_PREFIX}${safeLabel}_${runId}`;
}

/** A queue name that no other test run or developer stack uses. */
export function testQueueName(base: string, runId: string): string {
  return `${base}.test.${runId}`;
}
