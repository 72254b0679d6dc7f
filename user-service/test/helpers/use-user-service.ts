import test from 'ava';

import { TestEnvironment } from '@shop/test-harness';

import { startUserService, type StartedUserService, type UserServiceOptions } from './user-service';

export interface UserServiceContext {
  readonly env: TestEnvironment;
  readonly service: StartedUserService;
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

  test.serial.before(async () => {
    env = await TestEnvironment.start();
    service = await startUserService(env, overrides, options);
  });

  test.serial.after.always(async () => {
    await service?.close();
    await env?.close();
  });

  return {
    get env() {
      if (!env) throw new Error('the test environment has not started');
      return env;
    },
    get service() {
      if (!service) throw new Error('user-service has not started');
      return service;
    },
  };
}
