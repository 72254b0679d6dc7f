export { REPO_ROOT, ServiceProcess } from './service-process';
export type { LogLine, ServiceName } from './service-process';
export { identityEnvironment, startProductInstance, startSystem, waitUntilHealthy } from './system';
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
export { OtlpReceiver, SPAN_KIND } from './otlp-receiver';
export type { OtlpEncoding, ReceivedSpan } from './otlp-receiver';
export {
  ALERT_RULES_FILE,
  ALERT_RULES_TEST_FILE,
  DASHBOARD_FILE,
  OBSERVABILITY_DIR,
  PROMETHEUS_CONFIG_FILE,
  dashboardQueries,
  withRateInterval,
} from './observability-files';
export type { DashboardQuery } from './observability-files';
export { PrometheusServer, prometheusInstalled, promtool } from './prometheus';
export {
  dockerfileRuntime,
  kubectlAvailable,
  rabbitmqConfigKeys,
  renderKustomization,
  schemaErrors,
} from './kubernetes-manifests';
export type { K8sObject } from './kubernetes-manifests';
export { flood, quantile } from './flood';
export type { FloodOptions, FloodResult } from './flood';
export { MISSING_RABBITMQ_SERVER, ON_CI, reportMissingTool } from './missing-tool';
