import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ), which /proc reports CPU time in; 100 on Linux. */
const TICKS_PER_SECOND = 100;

/** The key of the machine-wide busy fraction (0–1 of all cores) among the shares. */
export const MACHINE_BUSY = 'machine busy';

/** Who used the CPU during a run, in cores (1.0 = one core busy the whole time). */
export type CpuShares = Record<string, number>;

interface Snapshot {
  at: number;
  /** CPU ticks per pid, with the label it counts under. */
  processes: Map<number, { label: string; ticks: number }>;
  /** Ticks of this process's children that have exited (the load generators). */
  exitedChildren: number;
  /** Machine-wide busy and total ticks, from /proc/stat. */
  machineBusy: number;
  machineTotal: number;
}

/** Labels of the processes the bench started, by pid (services and baselines). */
const labels = new Map<number, string>();

export function labelProcess(pid: number | undefined, label: string): void {
  if (pid !== undefined) labels.set(pid, label);
}

/** The edges of a measured window, as a worker reports them (warm-up and drain excluded). */
export type WindowMark = 'start' | 'end';

/**
 * What each process used the CPU for between a worker's `start` and `end` marks: the bench's
 * services, baselines and load generators by name, PostgreSQL and RabbitMQ by command, and
 * everything else — another job on this shared machine shows up there. Linux only: elsewhere
 * (or without both marks) the shares are empty.
 */
export class CpuWindow {
  private start: Snapshot | undefined;
  private end: Snapshot | undefined;

  readonly mark = (mark: WindowMark): void => {
    if (mark === 'start') this.start = snapshot();
    else this.end = snapshot();
  };

  shares(): CpuShares {
    return this.start && this.end ? shares(this.start, this.end) : {};
  }
}

/** Labels that are not on the measured path: the bench's own bookkeeping and other jobs. */
const OFF_PATH = new Set([MACHINE_BUSY, 'bench', 'other processes']);

/** Cores used by everything on the measured path: services, baselines, load generator, PostgreSQL, RabbitMQ. */
export function pathCores(cpu: CpuShares): number {
  return Object.entries(cpu).reduce((sum, [label, cores]) => (OFF_PATH.has(label) ? sum : sum + cores), 0);
}

/** Cores used by processes the bench did not start nor needs: another job on the machine. */
export function neighbourCores(cpu: CpuShares): number {
  return cpu['other processes'] ?? 0;
}

function shares(before: Snapshot, after: Snapshot): CpuShares {
  const seconds = (after.at - before.at) / 1000;
  const cores = (ticks: number) => Math.round((ticks / TICKS_PER_SECOND / seconds) * 100) / 100;
  const byLabel: Record<string, number> = {};
  for (const [pid, { label, ticks }] of after.processes) {
    const delta = ticks - (before.processes.get(pid)?.ticks ?? 0);
    if (delta > 0) byLabel[label] = (byLabel[label] ?? 0) + delta;
  }
  // A child that exited between the snapshots left its time in this process's cutime.
  const exited = after.exitedChildren - before.exitedChildren;
  if (exited > 0) byLabel['exited children'] = exited;
  const result: CpuShares = {};
  for (const [label, ticks] of Object.entries(byLabel)) result[label] = cores(ticks);
  const busy = after.machineBusy - before.machineBusy;
  const total = after.machineTotal - before.machineTotal;
  result[MACHINE_BUSY] = total > 0 ? Math.round((busy / total) * 100) / 100 : 0;
  return result;
}

function snapshot(): Snapshot | undefined {
  try {
    const processes = new Map<number, { label: string; ticks: number }>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const stat = readStat(pid);
      if (stat) processes.set(pid, { label: labels.get(pid) ?? labelOf(stat.command, pid), ticks: stat.ticks });
    }
    const self = readStat(process.pid);
    const [, ...fields] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/);
    const numbers = fields.map(Number);
    const idle = (numbers[3] ?? 0) + (numbers[4] ?? 0);
    const total = numbers.slice(0, 8).reduce((sum, value) => sum + value, 0);
    return {
      at: Date.now(),
      processes,
      exitedChildren: self?.childTicks ?? 0,
      machineBusy: total - idle,
      machineTotal: total,
    };
  } catch {
    return undefined;
  }
}

function labelOf(command: string, pid: number): string {
  if (pid === process.pid) return 'bench';
  if (command === 'postgres') return 'postgresql';
  if (command === 'beam.smp' || command.startsWith('erl')) return 'rabbitmq';
  return 'other processes';
}

/** utime+stime and cutime+cstime of a process from /proc/<pid>/stat, and its command name. */
function readStat(pid: number): { command: string; ticks: number; childTicks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command is in parentheses and may itself contain spaces or parentheses.
    const close = stat.lastIndexOf(')');
    const command = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // Fields after the command, 0-based: 11 utime, 12 stime, 13 cutime, 14 cstime.
    const at = (index: number) => Number(fields[index] ?? 0);
    return { command, ticks: at(11) + at(12), childTicks: at(13) + at(14) };
  } catch {
    return undefined;
  }
}
