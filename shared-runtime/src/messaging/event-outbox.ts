import type { Sequelize } from 'sequelize-typescript';

import { OutboxRepository } from '../db/outbox.repository';
import { plainTransactionRunner } from '../db/transaction';
import type { Logger } from '../logger';
import type { ServiceMetrics } from '../metrics';
import { runEvery } from '../run-every';
import type { FlowControl } from './flow-control';
import { OutboxRelay } from './outbox-relay';

/** How often published events past their retention are deleted, in ms. */
const PURGE_INTERVAL_MS = 10 * 60 * 1000;

/** How long a published event stays in the outbox (to look into what went out), in ms. */
const RETENTION_MS = 24 * 60 * 60 * 1000;

/** A service's transactional outbox, the relay that publishes it, and the purge of what went out. */
export interface EventOutbox {
  /** Where services record events, in the transaction of their change. */
  readonly outbox: OutboxRepository;
  /** Publishes the outbox; services notify it after a commit (it is their EventNotifier). */
  readonly relay: OutboxRelay;
  /** Starts the relay's polling and the hourly-ish purge. */
  start(): void;
  /** Stops the purge, and the relay after one last pass (so the last requests' events go out now). */
  stop(): Promise<void>;
}

/**
 * Wires a service's outbox on its database: the repository, the relay to `exchange` (whose
 * batches run only plain statements, so they skip Sequelize's transaction machinery), the backlog
 * gauges and relay counters of `metrics`, and a purge of events published more than 24 h ago.
 * Put `relay.setup` among the broker connection's setups.
 */
export function createEventOutbox(options: {
  sequelize: Sequelize;
  /** Topic exchange the events go to. */
  exchange: string;
  /** The AMQP `appId` of the events: the service's name. */
  appId: string;
  /** The AMQP `userId` of the events: the service's broker user (RabbitMQ checks it). */
  userId: string;
  logger: Logger;
  metrics: ServiceMetrics;
  /** The connection's flow control: the relay pauses while the broker blocks publishing. */
  flowControl?: FlowControl;
}): EventOutbox {
  const { sequelize, logger, metrics } = options;
  const outbox = new OutboxRepository({ sequelize });
  metrics.trackOutboxBacklog(() => outbox.backlog());
  const relay = new OutboxRelay({
    exchange: options.exchange,
    appId: options.appId,
    userId: options.userId,
    outbox,
    withTransaction: plainTransactionRunner(sequelize),
    logger,
    observer: metrics.outboxObserver,
    flowControl: options.flowControl,
  });
  let purge: NodeJS.Timeout | undefined;
  return {
    outbox,
    relay,
    start() {
      relay.start();
      purge ??= runEvery(PURGE_INTERVAL_MS, async () => {
        try {
          const purged = await outbox.purgePublished(new Date(Date.now() - RETENTION_MS));
          if (purged > 0) logger.info({ purged }, 'purged published outbox events');
        } catch (error) {
          logger.warn({ err: error }, 'could not purge published outbox events');
        }
      });
    },
    async stop() {
      clearInterval(purge);
      await relay.stop();
    },
  };
}
