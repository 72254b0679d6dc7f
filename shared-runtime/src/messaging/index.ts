// `@shop/shared-runtime/messaging`: the broker connection, the outbox relay and the auth-events subscriber. Its whole public surface.
export {
  AuthEventsSubscriber,
  type AuthEventsCache,
  type AuthEventsStats,
  type AuthEventsSubscriberDeps,
} from './auth-events.subscriber';
export {
  connectToBroker,
  connectionName,
  instanceQueueName,
  setupAll,
  type BrokerConnectionOptions,
  type BrokerSetup,
  type ChannelModel,
  type RecoveringChannelModel,
} from './broker-connection';
export { ChannelReopener, type ChannelReopenerOptions } from './channel-reopener';
export { createEventOutbox, type EventOutbox } from './event-outbox';
export {
  DEFAULT_BATCH_SIZE,
  DEFAULT_CONFIRM_TIMEOUT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  OutboxRelay,
  type OutboxRelayDeps,
  type OutboxRelayStats,
} from './outbox-relay';
export {
  createServiceMessaging,
  type MessagingOptions,
  type MessagingRuntime,
  type ServiceMessaging,
} from './service-messaging';
