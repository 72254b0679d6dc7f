import test from 'ava';

import { TestEnvironment } from '@shop/test-harness';

import { startUserService, type StartedUserService, type UserServiceOptions } from './user-service';

export interface UserServiceContext {
  readonly env: TestEnvironment;
  readonly service: StartedUserService;
  /**
   * Starts one more instance on the same database and auth-events exchange, as a second replica
   * of the deployment (e.g. with its own RPC queue through `AUTH_RPC_QUEUE`); it is closed with
   * the file.
   */
  startAnother(overrides?: Record<string, string>): Promise<StartedUserService>;
}

/**
 * Registers the hooks that give this test file its own environment (database, queue names)
 * and a running user-service, torn down even when tests fail.
 */
export function useUserService(
  overrides: Record<string, string> = {},
  options: UserServiceOptions = {},
): UserServiceContext {
  let env: TestEnvironment | undefined;
  let service: StartedUserService | undefined;
  const others: StartedUserService[] = [];

  test.serial.before(async () => {
    env = await TestEnvironment.start();
    service = await startUserService(env, overrides, options);
  });

  test.serial.after.always(async () => {
    // Before the first instance: it owns the database the others run on.
    for (const other of others) await other.close();
    await service?.close();
    await env?.close();
  });

  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} has not started`);
    return value;
  };

  return {
    get env() {
      return required(env, 'the test environment');
    },
    get service() {
      return required(service, 'user-service');
    },
    async startAnother(extra = {}) {
      const other = await startUserService(
        required(env, 'the test environment'),
        { ...overrides, ...extra },
        { database: required(service, 'user-service').database },
      );
      others.push(other);
      return other;
    },
  };
}
