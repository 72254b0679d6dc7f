import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The user an AMQP URL logs in as (`guest` when it names none, as amqplib does): what a
 * publisher on it must put in `userId`, which RabbitMQ checks against the login.
 */
export function loginOf(amqpUrl: string): string {
  const { username } = new URL(amqpUrl);
  return username === '' ? 'guest' : decodeURIComponent(username);
}

/** Runs `rabbitmqctl` with the given arguments where the broker lives; resolves to its stdout. */
export type RabbitmqctlRunner = (args: string[]) => Promise<string>;

/** `rabbitmqctl` on this machine: the broker the harness found on localhost or via TEST_AMQP_URL. */
export const localRabbitmqctl: RabbitmqctlRunner = async (args) => {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 30_000 });
  return stdout;
};

/**
 * Closes, from the broker's side, every connection whose `connection_name` is exactly
 * `connectionName` — as `rabbitmqctl close_all_connections` would, but only ours, so tests
 * running beside this one (and a developer's stack) keep their connections.
 *
 * @returns how many connections were closed
 */
export async function closeBrokerConnections(
  rabbitmqctl: RabbitmqctlRunner,
  connectionName: string,
  reason = 'closed by test',
): Promise<number> {
  const listing = await rabbitmqctl(['list_connections', 'pid', 'client_properties', '-q', '--no-table-headers']);
  const needle = `{"connection_name","${connectionName}"}`;
  const pids = listing
    .split('\n')
    .filter((line) => line.includes(needle))
    .map((line) => line.split('\t')[0] ?? '')
    .filter((pid) => pid.startsWith('<'));
  for (const pid of pids) await rabbitmqctl(['close_connection', pid, reason]);
  return pids.length;
}
