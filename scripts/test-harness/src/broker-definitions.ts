import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { RabbitmqctlRunner } from './broker-control';

/** The repository's RabbitMQ definitions: vhost `shop`, one user per service, their permissions. */
export const DEFINITIONS_PATH = path.resolve(__dirname, '../../../../deploy/rabbitmq/definitions.json');

/** The parts of a RabbitMQ definitions file that identities are made of. */
export interface BrokerDefinitions {
  users: { name: string; password_hash: string; hashing_algorithm: string; tags: string[] }[];
  vhosts: { name: string }[];
  permissions: { user: string; vhost: string; configure: string; write: string; read: string }[];
  topic_permissions: { user: string; vhost: string; exchange: string; write: string; read: string }[];
  exchanges: { name: string; vhost: string; type: string; durable: boolean }[];
}

/**
 * The local-trial passwords whose hashes the definitions file carries, by user. They are
 * published here on purpose: they only protect a developer's compose stack, and every
 * deployment sets its own (README, "Broker identities").
 */
export const LOCAL_TRIAL_PASSWORDS: Readonly<Record<string, string>> = {
  'user-service': 'user-service-local-trial',
  'product-service': 'product-service-local-trial',
  admin: 'admin-local-trial',
};

export function readDefinitions(file: string = DEFINITIONS_PATH): BrokerDefinitions {
  return JSON.parse(readFileSync(file, 'utf8')) as BrokerDefinitions;
}

/**
 * `password` hashed as RabbitMQ's `rabbit_password_hashing_sha256` stores it: base64 of a 4-byte
 * salt followed by SHA-256(salt ‖ password).
 */
export function hashPassword(password: string, salt: Buffer = randomBytes(4)): string {
  const digest = createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

/** Whether `hash` (as {@link hashPassword} makes it) is the hash of `password`. */
export function passwordMatches(hash: string, password: string): boolean {
  const stored = Buffer.from(hash, 'base64');
  const again = Buffer.from(hashPassword(password, stored.subarray(0, 4)), 'base64');
  return stored.length === again.length && timingSafeEqual(stored, again);
}

/** Where the definitions go: the vhost and each user's name and password on the target broker. */
export interface DefinitionsTarget {
  /** The vhost that takes the place of the file's (`shop`). */
  vhost: string;
  /** The broker user each of the file's users becomes (the file's name when absent). */
  userName(name: string): string;
  /** The password each of the file's users gets. */
  password(name: string): string;
  /**
   * The vhost and users are known not to exist (a test run's own): they are added without
   * listing what exists first. Each rabbitmqctl call starts an Erlang VM (seconds on a busy machine).
   */
  fresh?: boolean;
}

/**
 * Applies the definitions' vhost, users (password, tags), permissions and topic permissions to a
 * broker through `rabbitmqctl`, idempotently: an existing vhost is kept, an existing user gets
 * the password and tags again, permissions are set over whatever was there. Exchanges and queues
 * are not declared (rabbitmqctl cannot): each service declares what it owns.
 */
export async function applyDefinitions(
  rabbitmqctl: RabbitmqctlRunner,
  definitions: BrokerDefinitions,
  target: DefinitionsTarget,
): Promise<void> {
  const fresh = target.fresh ?? false;
  const vhosts = fresh ? [] : lines(await rabbitmqctl(['list_vhosts', 'name', '-q', '--no-table-headers']));
  if (!vhosts.includes(target.vhost)) await rabbitmqctl(['add_vhost', target.vhost]);
  const users = fresh
    ? []
    : lines(await rabbitmqctl(['list_users', '-q', '--no-table-headers'])).map((line) => line.split('\t')[0] ?? '');
  for (const user of definitions.users) {
    const name = target.userName(user.name);
    const password = target.password(user.name);
    const existed = users.includes(name);
    if (existed) await rabbitmqctl(['change_password', name, password]);
    else await rabbitmqctl(['add_user', name, password]);
    // A new user has no tags: only tags to give, or an existing user's to reset, need a call.
    if (existed || user.tags.length > 0) await rabbitmqctl(['set_user_tags', name, ...user.tags]);
  }
  for (const grant of definitions.permissions) {
    const name = target.userName(grant.user);
    await rabbitmqctl(['set_permissions', '-p', target.vhost, name, grant.configure, grant.write, grant.read]);
  }
  for (const grant of definitions.topic_permissions) {
    const name = target.userName(grant.user);
    await rabbitmqctl(['set_topic_permissions', '-p', target.vhost, name, grant.exchange, grant.write, grant.read]);
  }
}

function lines(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}
