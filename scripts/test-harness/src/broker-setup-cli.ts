/**
 * `npm run broker:setup`: applies deploy/rabbitmq/definitions.json (vhost `shop`, the users
 * `user-service`, `product-service` and `admin`, their permissions and topic permissions) to a
 * local broker with `rabbitmqctl`, so a developer runs the real permission model. Idempotent.
 *
 *   npm run broker:setup                         vhost shop, passwords from the environment or the local-trial defaults
 *   npm run broker:setup -- --vhost shop-second  the same users and permissions in another vhost (a second stack)
 *   npm run broker:setup -- --print-definitions  the definitions file with the passwords of the environment hashed, for compose
 *
 * Passwords: USER_SERVICE_BROKER_PASSWORD, PRODUCT_SERVICE_BROKER_PASSWORD, BROKER_ADMIN_PASSWORD.
 * RABBITMQCTL names the command (default `rabbitmqctl`; e.g. `docker compose exec -T rabbitmq rabbitmqctl`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import type { RabbitmqctlRunner } from './broker-control';
import {
  LOCAL_TRIAL_PASSWORDS,
  applyDefinitions,
  hashPassword,
  readDefinitions,
  type BrokerDefinitions,
} from './broker-definitions';

const run = promisify(execFile);

/** The variable holding each user's password. */
const PASSWORD_VARIABLES: Readonly<Record<string, string>> = {
  'user-service': 'USER_SERVICE_BROKER_PASSWORD',
  'product-service': 'PRODUCT_SERVICE_BROKER_PASSWORD',
  admin: 'BROKER_ADMIN_PASSWORD',
};

function passwordOf(user: string): string {
  const variable = PASSWORD_VARIABLES[user];
  const fromEnvironment = variable === undefined ? undefined : process.env[variable];
  const password = fromEnvironment ?? LOCAL_TRIAL_PASSWORDS[user];
  if (password === undefined || password === '') throw new Error(`no password for broker user ${user}`);
  return password;
}

function rabbitmqctlCommand(): RabbitmqctlRunner {
  const [command = 'rabbitmqctl', ...prefix] = (process.env.RABBITMQCTL ?? 'rabbitmqctl').split(/\s+/).filter(Boolean);
  return async (args) => {
    const { stdout } = await run(command, [...prefix, ...args], { timeout: 60_000 });
    return stdout;
  };
}

/** The definitions with every user's password hashed afresh: what compose's RabbitMQ may load instead. */
function withPasswords(definitions: BrokerDefinitions): BrokerDefinitions {
  return {
    ...definitions,
    users: definitions.users.map((user) => ({ ...user, password_hash: hashPassword(passwordOf(user.name)) })),
  };
}

async function main(argv: string[]): Promise<void> {
  const definitions = readDefinitions();
  if (argv.includes('--print-definitions')) {
    process.stdout.write(`${JSON.stringify(withPasswords(definitions), null, 2)}\n`);
    return;
  }
  const vhostAt = argv.indexOf('--vhost');
  const vhost = vhostAt >= 0 ? argv[vhostAt + 1] : definitions.vhosts[0]?.name;
  if (!vhost) throw new Error('--vhost needs a name');
  await applyDefinitions(rabbitmqctlCommand(), definitions, { vhost, userName: (name) => name, password: passwordOf });
  const users = definitions.users.map((user) => user.name).join(', ');
  process.stdout.write(
    `broker:setup: vhost ${vhost}; users ${users} with the permissions of deploy/rabbitmq/definitions.json\n`,
  );
  for (const user of definitions.users) {
    if (process.env[PASSWORD_VARIABLES[user.name] ?? ''] === undefined) {
      process.stdout.write(
        `broker:setup: ${user.name} has the local-trial password (${PASSWORD_VARIABLES[user.name] ?? '?'} unset)\n`,
      );
    }
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `broker:setup failed: ${message}\n(rabbitmqctl needs the node's Erlang cookie: run as the broker's user or root, or set RABBITMQCTL)\n`,
  );
  process.exit(1);
});
