import { CpuWindow, MACHINE_BUSY, type CpuShares, type WindowMark } from '../cpu-usage';
import { combineRuns, ratio, type RunMeasurement } from '../measurement';
import { progress } from '../progress';
import type { Comparison, ComparisonScenario } from '../results';

/** Runs one measured window (after `warmupSeconds` of untimed load, when > 0) at a level. */
export type Runner = (
  concurrency: number,
  warmupSeconds: number,
  onMark: (mark: WindowMark) => void,
) => Promise<RunMeasurement>;

export interface ComparisonPlan {
  scenario: ComparisonScenario;
  system: string;
  ceiling: string;
  levels: number[];
  /** How a level reads in progress lines, e.g. "in flight", "connections". */
  unit: string;
  runSystem: Runner;
  runCeiling: Runner;
}

/**
 * Measures the system and its ceiling at each level, `repeats` times each. The runs are
 * interleaved and the order flips every repetition (C S, S C, …), so a drift of the shared
 * machine's speed weighs on both sides alike; only each side's first run is warmed up.
 */
export async function compareAtLevels(
  plan: ComparisonPlan,
  settings: { repeats: number; warmupSeconds: number },
): Promise<Comparison[]> {
  const comparisons: Comparison[] = [];
  for (const level of plan.levels) {
    const systemRuns: RunMeasurement[] = [];
    const ceilingRuns: RunMeasurement[] = [];
    for (let repeat = 0; repeat < settings.repeats; repeat += 1) {
      // The targets stay up across levels, so once warm at the first level they are warm.
      const warmup = repeat === 0 && level === plan.levels[0] ? settings.warmupSeconds : 0;
      const sides = [
        { name: 'ceiling', what: plan.ceiling, run: plan.runCeiling, into: ceilingRuns },
        { name: 'system', what: plan.system, run: plan.runSystem, into: systemRuns },
      ];
      if (repeat % 2 === 1) sides.reverse();
      for (const side of sides) {
        progress(
          `${plan.scenario} · ${level} ${plan.unit} · ${side.name} (${side.what}) · run ${repeat + 1}/${settings.repeats}`,
        );
        const window = new CpuWindow();
        const measured = await side.run(level, warmup, window.mark);
        const cpu = window.shares();
        const run = { ...measured, cpu };
        progress(
          `  → ${run.opsPerSecond.toFixed(1)}/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms` +
            (run.failed ? `, ${run.failed} failed ${JSON.stringify(run.outcomes)}` : '') +
            `; cores used: ${describeCpu(cpu)}`,
        );
        side.into.push(run);
      }
    }
    const systemResult = combineRuns(systemRuns);
    const ceilingResult = combineRuns(ceilingRuns);
    comparisons.push({
      scenario: plan.scenario,
      system: plan.system,
      ceiling: plan.ceiling,
      concurrency: level,
      systemResult,
      ceilingResult,
      ratio: ratio(systemResult.opsPerSecond, ceilingResult.opsPerSecond),
    });
  }
  return comparisons;
}

/** "user-service 0.62, postgresql 0.31, …", busiest first. */
function describeCpu(cpu: CpuShares): string {
  const { [MACHINE_BUSY]: busy = 0, ...processes } = cpu;
  const parts = Object.entries(processes)
    .filter(([, cores]) => cores >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([label, cores]) => `${label} ${cores.toFixed(2)}`);
  return `${parts.join(', ')} (machine ${Math.round(busy * 100)}% busy)`;
}
