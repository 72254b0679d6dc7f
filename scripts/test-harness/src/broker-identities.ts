import { randomBytes } from 'node:crypto';

import type { RabbitmqctlRunner } from './broker-control';
import { applyDefinitions, readDefinitions, type BrokerDefinitions } from './broker-definitions';

/** Prefix of every vhost and user the harness creates, so a crashed run's can be found. */
export const TEST_IDENTITY_PREFIX = 'shoptest.';

/** Permissions of a user made for one test (a stranger on the broker, an event tap). */
export interface ExtraUserPermissions {
  configure: string;
  write: string;
  read: string;
}

/**
 * The repository's service identities (deploy/rabbitmq/definitions.json) applied to a vhost of
 * one test run: `shoptest.<runId>`, with users `shoptest.<name>.<runId>` holding the file's
 * permissions and topic permissions unchanged, and random passwords. The vhost is private, so the
 * services keep their production queue and exchange names in it. {@link delete} removes the
 * vhost (and everything in it) and the users.
 */
export class BrokerIdentities {
  private readonly users = new Map<string, { name: string; password: string }>();

  private constructor(
    private readonly rabbitmqctl: RabbitmqctlRunner,
    private readonly brokerUrl: string,
    private readonly runId: string,
    /** The run's vhost. */
    readonly vhost: string,
  ) {}

  /**
   * Creates the run's vhost and the definitions' users in it. `brokerUrl` is the test broker's
   * URL (any credentials and vhost in it are replaced per user).
   */
  static async create(
    rabbitmqctl: RabbitmqctlRunner,
    brokerUrl: string,
    runId: string,
    definitions: BrokerDefinitions = readDefinitions(),
  ): Promise<BrokerIdentities> {
    const identities = new BrokerIdentities(rabbitmqctl, brokerUrl, runId, `${TEST_IDENTITY_PREFIX}${runId}`);
    const services = servicesOf(definitions);
    for (const user of services.users) identities.remember(user.name);
    await applyDefinitions(rabbitmqctl, services, {
      vhost: identities.vhost,
      userName: (name) => identities.user(name),
      password: (name) => identities.passwordOf(name),
      fresh: true,
    });
    return identities;
  }

  /** The broker user standing for the definitions' user `name` (`user-service`, `product-service`). */
  user(name: string): string {
    const user = this.users.get(name);
    if (!user) throw new Error(`no broker user ${name} in this run`);
    return user.name;
  }

  /** An AMQP URL logging in as the definitions' user `name`, into the run's vhost. */
  url(name: string): string {
    const user = this.users.get(name);
    if (!user) throw new Error(`no broker user ${name} in this run`);
    const url = new URL(this.brokerUrl);
    url.username = encodeURIComponent(user.name);
    url.password = encodeURIComponent(user.password);
    url.pathname = `/${encodeURIComponent(this.vhost)}`;
    return url.toString();
  }

  /**
   * Adds a user of the test's own in the run's vhost (`shoptest.<name>.<runId>`): a stranger on
   * the broker, or a tap that reads what the services publish. Returns its URL.
   */
  async addUser(name: string, permissions: ExtraUserPermissions): Promise<string> {
    const { name: user, password } = this.remember(name);
    await this.rabbitmqctl(['add_user', user, password]);
    await this.rabbitmqctl([
      'set_permissions',
      '-p',
      this.vhost,
      user,
      permissions.configure,
      permissions.write,
      permissions.read,
    ]);
    return this.url(name);
  }

  /** Deletes the vhost (its queues and exchanges with it) and every user of the run. */
  async delete(): Promise<void> {
    await this.rabbitmqctl(['delete_vhost', this.vhost]).catch(() => undefined);
    for (const { name } of this.users.values()) await this.rabbitmqctl(['delete_user', name]).catch(() => undefined);
    this.users.clear();
  }

  private passwordOf(name: string): string {
    return this.users.get(name)?.password ?? '';
  }

  private remember(name: string): { name: string; password: string } {
    const user = { name: `${TEST_IDENTITY_PREFIX}${name}.${this.runId}`, password: randomBytes(12).toString('hex') };
    this.users.set(name, user);
    return user;
  }
}

/**
 * The definitions without their tagged users (`admin`, an administrator for the management UI):
 * a test needs the services' identities only, and an administrator, even of one vhost, may
 * manage the whole shared broker through the management API.
 */
function servicesOf(definitions: BrokerDefinitions): BrokerDefinitions {
  const services = new Set(definitions.users.filter((user) => user.tags.length === 0).map((user) => user.name));
  return {
    ...definitions,
    users: definitions.users.filter((user) => services.has(user.name)),
    permissions: definitions.permissions.filter((grant) => services.has(grant.user)),
    topic_permissions: definitions.topic_permissions.filter((grant) => services.has(grant.user)),
  };
}
