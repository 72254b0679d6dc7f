export { REPO_ROOT, ServiceProcess } from './service-process';
export type { LogLine, ServiceName } from './service-process';
export { startProductInstance, startSystem, waitUntilHealthy } from './system';
export type { RunningSystem } from './system';
export { maskVolatile, readWalkthrough } from './readme-walkthrough';
export type { WalkthroughStep } from './readme-walkthrough';
export { WriteStream, statusCounts, storedProductNames } from './write-stream';
export { unpublishedOutboxRows } from './outbox';
export type { WriteOutcome, WriteStreamOptions } from './write-stream';
export {
  CHAOS_RPC_TIMEOUT_MS,
  CLIENT_DEADLINE_MS,
  assertNothingLostOrDoubled,
  brokerAcceptsConnections,
  eventually,
  logRecovery,
  startChaosSystem,
  startWriteStream,
  timeUntilHealthy,
} from './chaos';
export type { ChaosSystem } from './chaos';
export { replayRuntimeStage } from './dockerfile-runtime';
export type { RuntimeStageReplay } from './dockerfile-runtime';
export { rpcCallsSent } from './metrics';
export { EventTap } from './event-tap';
export type { TappedEvent } from './event-tap';
export { flood, quantile } from './flood';
export type { FloodOptions, FloodResult } from './flood';
