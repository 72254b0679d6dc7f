import type { TestEnvironment } from '@shop/test-harness';

import type { Cleanup } from '../cleanup';
import type { BenchOptions } from '../options';
import type { Stack } from '../stack';

/** What every scenario gets: the running system, the run's settings, and where to register undo steps. */
export interface ScenarioContext {
  env: TestEnvironment;
  stack: Stack;
  options: BenchOptions;
  cleanup: Cleanup;
}
