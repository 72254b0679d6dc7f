// `@shop/shared-runtime/messaging`: the broker connection, the outbox relay and the auth-events subscriber. Its whole public surface.
export {
  AuthEventsSubscriber,
  type AuthEventsCache,
  type AuthEventsStats,
  type AuthEventsSubscriberDeps,
} from './auth-events.subscriber';
export {
  connectToBroker,
  type BrokerConnectionOptions,
  type BrokerSetup,
  type ChannelModel,
  type RecoveringChannelModel,
} from './broker-connection';
export { ChannelReopener, type ChannelReopenerOptions } from './channel-reopener';
export {
  FlowControl,
  WRITE_BUFFER_REASON,
  notePublishResult,
  watchConnectionFlow,
  withFlowControl,
  type DrainingChannel,
  type FlowBlock,
  type FlowEvents,
  type FlowListener,
  type FlowState,
} from './flow-control';
export { OutboxRelay, type OutboxRelayDeps, type OutboxRelayStats } from './outbox-relay';
export {
  createServiceMessaging,
  type MessagingOptions,
  type MessagingRuntime,
  type ServiceMessaging,
} from './service-messaging';
