import type { RecoveringChannelModel } from 'amqplib';
import type { Sequelize } from 'sequelize-typescript';

import type { BrokerIdentities } from '../broker-identity';
import type { OutboxRepository } from '../db/outbox.repository';
import type { Logger } from '../logger';
import type { ServiceMetrics } from '../metrics';
import { AuthEventsSubscriber, type AuthEventsCache } from './auth-events.subscriber';
import { connectToBroker, connectionName, instanceQueueName, setupAll, type BrokerSetup } from './broker-connection';
import { createEventOutbox } from './event-outbox';
import { FlowControl, watchConnectionFlow, type FlowState } from './flow-control';
import type { OutboxRelay } from './outbox-relay';

/** What a composition root may set on a service's messaging; production passes nothing. */
export interface MessagingOptions {
  /** The broker connection's name in the management UI. Default `<service>@<host>/<pid>`. */
  connectionName?: string;
  /** This instance's auth-events queue. Default `<service>.auth-events.<host>.<pid>`. */
  authEventsQueue?: string;
}

/** The messaging every service runs, as its composition root hands it to main.ts and the tests. */
export interface MessagingRuntime {
  /** Evicts from the service's token-check cache on auth events. */
  authEvents: AuthEventsSubscriber;
  /** Publishes the outbox to the service's events exchange; services notify it after a commit. */
  relay: OutboxRelay;
  /** Where services record events, in the transaction of their change. */
  outbox: OutboxRepository;
  /** The recovering connection (it may still be connecting). */
  broker: RecoveringChannelModel;
  /** The connection's name, as the management UI shows it. */
  connectionName: string;
  /** Whether the broker lets this process publish right now (memory or disk alarms). */
  flowControl: FlowControl;
}

/** A service's messaging, built before its services (which record events) and connected after them. */
export interface ServiceMessaging {
  readonly outbox: OutboxRepository;
  readonly relay: OutboxRelay;
  readonly authEvents: AuthEventsSubscriber;
  /** Whether the connection may publish now; the relay pauses while it may not. */
  readonly flowControl: FlowControl;
  /**
   * Opens the service's one broker connection (to the first of `urls` that answers). After every (re)connect the auth-events
   * subscriber's setup runs first (its flush then precedes anything the other components take),
   * then `setups` in their order (the RPC responder or client), then the relay's. Starts the
   * relay and the outbox purge. Resolves at once: the connection comes up in the background.
   */
  connect(urls: readonly string[], setups: readonly BrokerSetup[]): Promise<MessagingRuntime>;
  /**
   * Stops consuming auth events, stops the relay after one last pass (so the events of the last
   * requests go out now), then closes the connection. Stop the service's own components on the
   * connection (the RPC responder or client) first.
   */
  close(): Promise<void>;
}

/**
 * Wires the messaging every service runs: the transactional outbox on `sequelize` and its relay
 * to `eventsExchange`; a subscriber to user-service's `authEventsExchange` on a queue of this
 * instance's own, evicting from `cache`; their metrics; then, on {@link ServiceMessaging.connect},
 * the broker connection, named for the management UI, with reconnects counted.
 */
export function createServiceMessaging(options: {
  service: string;
  sequelize: Sequelize;
  /** Topic exchange the service's own events go to. */
  eventsExchange: string;
  /** Topic exchange user-service publishes auth events on. */
  authEventsExchange: string;
  /** Who is who on the broker: the service's own user (the `userId` it publishes with) and user-service's. */
  identities: BrokerIdentities;
  /** The service's cache of token checks, which the auth events keep honest. */
  cache: AuthEventsCache;
  logger: Logger;
  metrics: ServiceMetrics;
  options?: MessagingOptions;
  /**
   * The connection's flow-control state, when components built before the messaging (an RPC
   * client) read it too; a new one otherwise.
   */
  flowControl?: FlowControl;
}): ServiceMessaging {
  const { service, logger, metrics } = options;
  const flowControl = options.flowControl ?? new FlowControl();
  flowControl.onChange((state, previous) => {
    logFlowChange(logger, state, previous);
  });
  metrics.trackFlowControl(flowControl);
  const events = createEventOutbox({
    sequelize: options.sequelize,
    exchange: options.eventsExchange,
    appId: service,
    userId: options.identities.own,
    logger,
    metrics,
    flowControl,
  });
  // Every instance must see every auth event, so each consumes from a queue of its own.
  const authEvents = new AuthEventsSubscriber({
    exchange: options.authEventsExchange,
    // The service whose own events go to the auth-events exchange (user-service) owns it; every
    // other only checks for it and waits for its owner.
    ownsExchange: options.eventsExchange === options.authEventsExchange,
    expectedSender: options.identities.userService,
    queue: options.options?.authEventsQueue ?? instanceQueueName(service, 'auth-events'),
    cache: options.cache,
    logger,
    observer: metrics.authEventsObserver,
  });
  const { identities } = options;
  if (!identities.separated) {
    // The local default (all `guest`): every check below passes, and proves nothing.
    logger.warn(
      { broker_user: identities.own },
      'broker identities are not separated: user-service and product-service are one broker user, so whoever ' +
        'holds its credentials can answer token checks and send auth events; give each service its own user ' +
        '(README, "Broker identities")',
    );
  }
  let broker: RecoveringChannelModel | undefined;
  return {
    outbox: events.outbox,
    relay: events.relay,
    authEvents,
    flowControl,
    async connect(urls, setups) {
      const name = options.options?.connectionName ?? connectionName(service);
      broker = await connectToBroker({
        urls,
        connectionName: name,
        setup: setupAll([authEvents.setup, ...setups, events.relay.setup]),
        logger,
        onReconnect: () => {
          metrics.brokerReconnects.inc();
        },
      });
      watchConnectionFlow(broker, flowControl);
      events.start();
      return { authEvents, relay: events.relay, outbox: events.outbox, broker, connectionName: name, flowControl };
    },
    async close() {
      await authEvents.close();
      await events.stop();
      await broker?.close().catch(() => undefined);
    },
  };
}

/** One line per change: a block at warn with the broker's reason, its end at info with its length. */
function logFlowChange(logger: Logger, state: FlowState, previous: FlowState): void {
  if (state.blocked) {
    logger.warn(
      { cause: state.cause, reason: state.reason },
      'RabbitMQ is not accepting our messages; token checks fail at once and the outbox waits',
    );
  } else if (previous.blocked) {
    logger.info({ blocked_ms: Date.now() - previous.since.getTime() }, 'RabbitMQ accepts our messages again');
  }
}
