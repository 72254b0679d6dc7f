import Joi from 'joi';

import { ConfigError } from './config';

/** The user amqplib logs in as when the URL names none (RabbitMQ's default user). */
const DEFAULT_BROKER_USER = 'guest';

/** Who is who on the broker, as one service sees it. */
export interface BrokerIdentities {
  /**
   * This service's own broker user: the AMQP_URL's username. Everything it publishes carries it
   * as `userId`, which RabbitMQ checks against the connection's login (unlike `appId`).
   */
  own: string;
  /** The broker user user-service connects as: RPC replies and auth events are believed only from it. */
  userService: string;
  /** The broker user product-service connects as. */
  productService: string;
  /** Whether the two services connect as different users (false on the all-`guest` local default). */
  separated: boolean;
}

/** A RabbitMQ user name as a variable may give it: what `rabbitmqctl add_user` takes, without spaces or commas. */
const brokerUser = Joi.string().pattern(/^[A-Za-z0-9._@:-]{1,200}$/);

/**
 * The Joi keys of the broker identities: `USER_SERVICE_BROKER_USER` and
 * `PRODUCT_SERVICE_BROKER_USER`. Both services read both, so a deployment sets them once for
 * the whole stack; unset, each defaults to this service's own user (all-`guest` then works).
 */
export function brokerIdentityEnvKeys(): Joi.PartialSchemaMap {
  return { USER_SERVICE_BROKER_USER: brokerUser, PRODUCT_SERVICE_BROKER_USER: brokerUser };
}

/**
 * The username of the first AMQP URL in `amqpUrl` (a list of cluster nodes is comma-separated;
 * every node of a cluster shares its users), or `guest` when it names none, as amqplib does.
 */
export function brokerUserOf(amqpUrl: string): string {
  const first = amqpUrl.split(',')[0]?.trim() ?? '';
  if (!URL.canParse(first)) return DEFAULT_BROKER_USER;
  const { username } = new URL(first);
  return username === '' ? DEFAULT_BROKER_USER : decodeURIComponent(username);
}

/**
 * The identities from variables checked with {@link brokerIdentityEnvKeys}, for `service`. This
 * service's own variable, when set, must name the user of its AMQP_URL: RabbitMQ refuses a
 * publish whose `userId` is not the connection's user, so a mismatch is stopped here, at start,
 * with a line naming the variable, rather than as refused publishes later.
 */
export function brokerIdentitiesOf(
  vars: Record<string, unknown>,
  service: 'user-service' | 'product-service',
  amqpUrls: readonly string[],
): BrokerIdentities {
  // Every node of a cluster shares its users: the first address names ours.
  const own = brokerUserOf(amqpUrls[0] ?? '');
  const ownKey = service === 'user-service' ? 'USER_SERVICE_BROKER_USER' : 'PRODUCT_SERVICE_BROKER_USER';
  const configuredOwn = vars[ownKey] as string | undefined;
  if (configuredOwn !== undefined && configuredOwn !== own) {
    throw new ConfigError(
      `Invalid configuration: ${ownKey} is ${configuredOwn} but AMQP_URL logs in as ${own}; they must be the same user`,
    );
  }
  const userService = (vars.USER_SERVICE_BROKER_USER as string | undefined) ?? own;
  const productService = (vars.PRODUCT_SERVICE_BROKER_USER as string | undefined) ?? own;
  return { own, userService, productService, separated: userService !== productService };
}
