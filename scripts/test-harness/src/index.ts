export { closeBrokerConnections, localRabbitmqctl } from './broker-control';
export type { RabbitmqctlRunner } from './broker-control';
export { EventListener, type ReceivedEvent } from './event-listener';
export { LOCAL_AMQP_URL, LOCAL_POSTGRES_URL, resolveInfrastructure } from './infrastructure';
export type { Infrastructure, InfrastructureSource } from './infrastructure';
export { TcpProxy } from './tcp-proxy';
export type { TcpProxyOptions } from './tcp-proxy';
export { TestEnvironment } from './test-environment';
export { TEST_DATABASE_PREFIX, createRunId, runIdCreatedAt, testDatabaseName, testQueueName } from './unique-names';
