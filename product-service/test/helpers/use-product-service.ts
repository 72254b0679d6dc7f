import test from 'ava';

import { EventListener, TestEnvironment } from '@shop/test-harness';

import {
  openTestDatabase,
  startProductService,
  type ProductServiceOptions,
  type StartedProductService,
  type TestDatabase,
} from './product-service';
import { TestResponder } from './test-responder';

export interface ProductServiceContext {
  readonly env: TestEnvironment;
  readonly db: TestDatabase;
  /** The stand-in for user-service, consuming {@link queue}. */
  readonly responder: TestResponder;
  /** The RPC queue of this file, private to the test run. */
  readonly queue: string;
  /** product-service sending its token checks to {@link queue}. */
  readonly service: StartedProductService;
  /**
   * Starts one more instance on the same database (e.g. with its own client, queue or
   * timeout); it is closed with the file.
   */
  startAnother(options?: Partial<ProductServiceOptions>): Promise<StartedProductService>;
  /** A queue name of this run that nothing has declared. */
  unusedQueue(label: string): string;
}

/**
 * Registers the hooks that give this test file its own environment (database, queue names),
 * a scripted responder and a running product-service, torn down even when tests fail.
 */
export function useProductService(
  env: Record<string, string> = {},
  options: Pick<ProductServiceOptions, 'logDestination'> = {},
): ProductServiceContext {
  let environment: TestEnvironment | undefined;
  let db: TestDatabase | undefined;
  let responder: TestResponder | undefined;
  let service: StartedProductService | undefined;
  let queue: string | undefined;
  const others: StartedProductService[] = [];

  test.serial.before(async () => {
    environment = await TestEnvironment.start();
    db = await openTestDatabase(environment);
    queue = environment.queueName('auth.validate_token');
    responder = await TestResponder.start(environment.amqpUrl, queue);
    service = await startProductService(environment, db, { queue, env, ...options });
  });

  test.serial.after.always(async () => {
    for (const other of others) await other.close();
    await service?.close();
    await responder?.close();
    await db?.close();
    await environment?.close();
  });

  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} has not started`);
    return value;
  };

  return {
    get env() {
      return required(environment, 'the test environment');
    },
    get db() {
      return required(db, 'the test database');
    },
    get responder() {
      return required(responder, 'the test responder');
    },
    get queue() {
      return required(queue, 'the test queue');
    },
    get service() {
      return required(service, 'product-service');
    },
    async startAnother(options = {}) {
      const other = await startProductService(required(environment, 'the test environment'), required(db, 'the db'), {
        queue: options.queue ?? required(queue, 'the test queue'),
        env: { ...env, ...options.env },
        ...(options.waitForBroker === undefined ? {} : { waitForBroker: options.waitForBroker }),
      });
      others.push(other);
      return other;
    },
    unusedQueue(label) {
      return required(environment, 'the test environment').queueName(`auth.validate_token.${label}`);
    },
  };
}

/**
 * Registers the hooks of an EventListener on the file's `product.events` exchange (a queue of its
 * own, named by `label`), bound once the file's product-service is up and closed with the file.
 */
export function useProductEvents(ctx: ProductServiceContext, label: string): { readonly listener: EventListener } {
  let listener: EventListener | undefined;
  test.serial.before(async () => {
    listener = await EventListener.bind(
      ctx.env.amqpUrl,
      ctx.service.config.amqp.productEventsExchange,
      ctx.env.queueName(`product.events.${label}`),
    );
  });
  test.serial.after.always(async () => {
    await listener?.close();
  });
  return {
    get listener() {
      if (!listener) throw new Error('the product events listener has not started');
      return listener;
    },
  };
}
