export { AuthEventPublisher, tokenRevokedEvent, userDeactivatedEvent } from './auth-events';
export { closeBrokerConnections, localRabbitmqctl, loginOf } from './broker-control';
export {
  DEFINITIONS_PATH,
  LOCAL_TRIAL_PASSWORDS,
  applyDefinitions,
  hashPassword,
  passwordMatches,
  readDefinitions,
  type BrokerDefinitions,
  type DefinitionsTarget,
} from './broker-definitions';
export { BrokerIdentities, TEST_IDENTITY_PREFIX, type ExtraUserPermissions } from './broker-identities';
export type { RabbitmqctlRunner } from './broker-control';
export { EventListener, type ReceivedEvent } from './event-listener';
export { EVENTUALLY_MS, retryOnDeadlock, settlesWithin, waitUntil, type WaitOptions } from './polling';
export { metricSample, sampleValue, scrapeMetrics } from './metrics';
export { INTERNALS, call, expectProblem, type ApiResponse, type CallOptions } from './http-client';
export { freePort } from './free-port';
export { lintOpenApi, type LintOptions, type LintProblem } from './openapi-lint';
export { LOCAL_AMQP_URL, LOCAL_POSTGRES_URL, resolveInfrastructure } from './infrastructure';
export type { Infrastructure, InfrastructureSource } from './infrastructure';
export { TcpProxy } from './tcp-proxy';
export type { TcpProxyOptions } from './tcp-proxy';
export { TestEnvironment } from './test-environment';
export { TEST_DATABASE_PREFIX, createRunId, runIdCreatedAt, testDatabaseName, testQueueName } from './unique-names';
export { RabbitCluster, type RabbitNode } from './rabbit-cluster';
