import { connect, type ChannelModel, type RecoveringChannelModel } from 'amqplib';
import { hostname } from 'node:os';

import type { Logger } from '../logger';
import { BrokerAddresses } from './broker-addresses';

export type { ChannelModel, RecoveringChannelModel };

/** What runs on a fresh connection: declares a component's topology and opens its channels. */
export type BrokerSetup = (model: ChannelModel) => Promise<void>;

/**
 * Several components' setups as the connection's one setup, run in order after every
 * (re)connect. One that throws fails the whole setup, and the connection is retried.
 */
export function setupAll(setups: readonly BrokerSetup[]): BrokerSetup {
  return async (model) => {
    for (const setup of setups) await setup(model);
  };
}

export interface BrokerConnectionOptions {
  /**
   * The broker's URL, or a cluster's nodes: tried in this order, the next one after a failed
   * attempt or a lost connection (so a client leaves a dead node), round again after the last.
   */
  urls: readonly string[];
  /** Shown as the connection's name in the RabbitMQ management UI. */
  connectionName: string;
  logger: Logger;
  /** Runs after every (re)connect: declare the topology and start consuming here. */
  setup: BrokerSetup;
  /** Called each time the connection comes back after a loss (not on the first connect). */
  onReconnect?: () => void;
}

/**
 * The name the management UI shows for this process's connection: the service, the host
 * (a container id under Docker, so replicas differ) and the pid.
 */
export function connectionName(service: string): string {
  return `${service}@${hostname()}/${process.pid}`;
}

/**
 * The name of a queue of this process's own (`product-service.auth-events.<host>.<pid>`): a
 * fixed name that tells the management UI whose queue it is, unique per replica.
 */
export function instanceQueueName(service: string, purpose: string): string {
  return `${service}.${purpose}.${hostname()}.${process.pid}`;
}

/**
 * Opens a named connection that reconnects by itself (exponential backoff with jitter,
 * capped at 10 s, each attempt to the next of `urls`) and re-runs `setup` after every reconnect.
 * Resolves at once: the service starts while the broker is still down and reports it through /health.
 */
export async function connectToBroker(options: BrokerConnectionOptions): Promise<RecoveringChannelModel> {
  const { logger } = options;
  const addresses = new BrokerAddresses(options.urls);
  const connection = await connect(addresses.target, {
    // Without noDelay, Nagle's algorithm holds small RPC frames back ~40 ms (measured).
    noDelay: true,
    clientProperties: { connection_name: options.connectionName },
    recovery: {
      initialDelay: 200,
      maxDelay: 10_000,
      factor: 2,
      jitter: 0.3,
      maxRetries: Infinity,
      waitForConnect: false,
      setup: guardedSetup(options.setup, (error) => {
        logger.warn(
          { broker: addresses.current, err: error.message },
          'lost the RabbitMQ connection while setting it up',
        );
      }),
    },
  });
  let connectedBefore = false;
  connection.on('connect', () => {
    logger.info({ broker: addresses.current }, connectedBefore ? 'reconnected to RabbitMQ' : 'connected to RabbitMQ');
    if (connectedBefore) options.onReconnect?.();
    connectedBefore = true;
  });
  // Both events come before the next attempt is scheduled: that attempt goes to the next address.
  connection.on('disconnect', (error: Error) => {
    logger.warn({ broker: addresses.current, err: error.message }, 'lost the RabbitMQ connection; reconnecting');
    addresses.advance();
  });
  connection.on('connect-failed', (error: Error) => {
    logger.warn(
      { broker: addresses.current, err: error.message },
      'cannot reach RabbitMQ; is it running (rabbitmq-server, or docker compose up rabbitmq)?',
    );
    addresses.advance();
  });
  connection.on('error', (error: Error) => {
    logger.warn({ broker: addresses.current, err: error.message }, 'RabbitMQ connection error');
  });
  return connection;
}

/**
 * `setup` with an `error` listener on the fresh connection while it runs. amqplib's recovery
 * binds its own listener only once setup has resolved, so a connection lost during setup (a
 * broker going down, a proxy cutting in) would emit `error` with no listener, which Node throws:
 * the whole process would exit. With the listener the setup fails instead and recovery retries.
 * Once setup has succeeded the listener goes (recovery's takes over in the same turn); after a
 * failed one it stays, since amqplib may still report on the connection it is closing.
 *
 * A connection that closed while setup ran fails the setup even when setup itself resolved (a
 * component that retries its channel in the background does): recovery would otherwise adopt a
 * dead connection, never see its `close`, and believe itself connected for good.
 */
function guardedSetup(setup: BrokerSetup, onError: (error: Error) => void): BrokerSetup {
  return async (model) => {
    let closedDuringSetup: Error | undefined;
    const onClose = (error?: Error) => {
      closedDuringSetup = error ?? new Error('the connection closed while it was being set up');
    };
    model.on('error', onError);
    model.once('close', onClose);
    await setup(model);
    model.removeListener('close', onClose);
    if (closedDuringSetup) throw closedDuringSetup;
    model.removeListener('error', onError);
  };
}
