// The root entry point: what every layer of a service uses. Its whole public surface.
export { brokerIdentitiesOf, brokerIdentityEnvKeys, brokerUserOf, type BrokerIdentities } from './broker-identity';
export type { ChangeContext } from './change-context';
export {
  ConfigError,
  DEFAULT_LOAD_SHEDDING,
  brokerName,
  cacheConfigOf,
  cacheEnvKeys,
  commonConfigOf,
  commonEnvKeys,
  deepFreeze,
  loadSheddingConfigOf,
  loadSheddingEnvKeys,
  validateEnv,
  type CacheConfig,
  type LoadSheddingConfig,
  type CommonConfig,
  type DatabaseConfig,
  type HttpConfig,
  type OtlpProtocol,
  type TracingConfig,
} from './config';
export {
  AppError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  OverloadedError,
  RETRY_AFTER_SECONDS,
  ServiceUnavailableError,
  UnauthorizedError,
  ValidationError,
  retryAfterHeader,
  type ProblemExtensions,
} from './errors';
export type { EventNotifier } from './event-notifier';
export { probe, type DependencyStatus, type HealthCheck } from './health';
export { REDACTED_PATHS, createLogger, type Logger, type LoggerOptions } from './logger';
export {
  ServiceMetrics,
  type AuthEventsObserver,
  type CacheMetrics,
  type CacheMetricsHelp,
  type CacheObserver,
  type OutboxBacklogSample,
  type OutboxObserver,
  type ServiceMetricsOptions,
} from './metrics';
export { SHUTDOWN_DEADLINE_MS, installCrashHandlers, onShutdownSignal, runMain } from './process-lifecycle';
export { runEvery } from './run-every';
export { activeTraceparent, currentTraceContext, runWithTraceContext, type TraceContext } from './trace-context';
