import test from 'ava';
import { connect, type Channel, type ConfirmChannel } from 'amqplib';
import { Client } from 'pg';

import {
  AUTH_EVENTS_EXCHANGE,
  AUTH_VALIDATE_TOKEN_QUEUE,
  DIRECT_REPLY_TO_QUEUE,
  JSON_CONTENT_TYPE,
  PRODUCT_EVENTS_EXCHANGE,
} from '@shop/shared-contracts';
import {
  TestEnvironment,
  call,
  metricSample,
  tokenRevokedEvent,
  userDeactivatedEvent,
  waitUntil,
  type BrokerIdentities,
} from '@shop/test-harness';

import { EventTap, ServiceProcess, identityEnvironment, startSystem, type RunningSystem } from '../src';

/**
 * A deployment's identities in a vhost of this run: user-service and product-service log in as
 * their own users with the permissions of deploy/rabbitmq/definitions.json, and a stranger (any
 * other client of the broker, with every permission in the vhost) tries what they must refuse.
 */

/** A short RPC timeout: a forged reply makes a call wait for it. */
const RPC_TIMEOUT_MS = 1500;

/** Every permission in the run's vhost: any other client of the broker. */
const EVERYTHING = { configure: '.*', write: '.*', read: '.*' };

let env: TestEnvironment | undefined;
let identities: BrokerIdentities | undefined;
let system: RunningSystem | undefined;
let strangerUrl = '';

test.before(async () => {
  env = await TestEnvironment.start();
  identities = await env.brokerIdentities();
  strangerUrl = await identities.addUser('stranger', EVERYTHING);
  system = await startSystem(env, { identities, product: { AUTH_RPC_TIMEOUT_MS: String(RPC_TIMEOUT_MS) } });
});

test.after.always(async () => {
  await system?.stop();
  await env?.close();
});

function running(): { env: TestEnvironment; identities: BrokerIdentities; system: RunningSystem } {
  if (!env || !identities || !system) throw new Error('the system has not started');
  return { env, identities, system };
}

let users = 0;

/** Registers a fresh user and logs in through user-service; returns the token and the user's id. */
async function newUser(userUrl: string): Promise<{ token: string; userId: number }> {
  users += 1;
  const credentials = { username: `identities_${users}`, password: 'identities-password-1' };
  const registered = await call<{ id: number }>(userUrl, 'POST', '/register', { json: credentials });
  if (registered.status !== 201) throw new Error(`register → ${registered.status}: ${registered.text}`);
  const login = await call<{ access_token: string }>(userUrl, 'POST', '/login', { json: credentials });
  return { token: login.body.access_token, userId: registered.body.id };
}

async function newToken(userUrl: string): Promise<string> {
  return (await newUser(userUrl)).token;
}

async function productCount(databaseUrl: string): Promise<number> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>('SELECT count(*) FROM products');
    return Number(rows[0]?.count);
  } finally {
    await client.end();
  }
}

/** A JWT-shaped token no key signed: only a forged answer could call it valid. */
function unsignedToken(n: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: String(n), username: 'mallory' })}.${'A'.repeat(43)}`;
}

/**
 * What the broker answers when `url`'s user tries `attempt` on a fresh channel: the error that
 * closed the channel (ACCESS_REFUSED, PRECONDITION_FAILED), or undefined when it was allowed.
 */
async function brokerAnswer(
  url: string,
  attempt: (channel: ConfirmChannel) => Promise<unknown>,
): Promise<string | undefined> {
  const connection = await connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    const closed = new Promise<string>((resolve) => {
      channel.on('error', (error: Error) => {
        resolve(error.message);
      });
    });
    const outcome = attempt(channel).then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    const first = await outcome;
    // The call fails with "channel closed"; the reason comes with the channel's `error` event.
    if (first !== undefined) {
      const reason = await Promise.race([
        closed,
        new Promise<undefined>((resolve) => {
          setTimeout(() => {
            resolve(undefined);
          }, 2000);
        }),
      ]);
      return reason ?? first;
    }
    // A refused publish closes the channel asynchronously; a confirmed one leaves it open.
    return await Promise.race([closed, channel.close().then(() => undefined)]);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** A publish waited on until the broker confirms it (or refuses it, closing the channel). */
async function publishConfirmed(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  options: object = {},
): Promise<void> {
  channel.publish(exchange, routingKey, Buffer.from('{}'), options);
  await channel.waitForConfirms();
}

test.serial(
  'walkthrough with per-service users → register, login, write, events, logout; every message carries its sender’s broker user',
  async (t) => {
    const { env, identities, system } = running();
    const tap = await EventTap.open(strangerUrl, PRODUCT_EVENTS_EXCHANGE, 'stranger.product-events');
    t.teardown(() => tap.close());
    await tap.consume();
    const token = await newToken(system.user.baseUrl);

    const created = await call<{ id: number }>(system.product.baseUrl, 'POST', '/products', {
      token,
      json: { name: 'identity-checked', price: 10, quantity: 1 },
    });
    t.is(created.status, 201, created.text);
    await waitUntil(() => tap.deliveries.length > 0, 'the product.created event');
    t.is(
      tap.deliveries[0]?.userId,
      identities.user('product-service'),
      'the event names product-service’s broker user',
    );

    t.is((await call(system.user.baseUrl, 'POST', '/logout', { token })).status, 204);
    // product-service cached the token's check: only user-service's auth event can end it early.
    await waitUntil(
      async () =>
        (
          await call(system.product.baseUrl, 'POST', '/products', {
            token,
            json: { name: 'after-logout', price: 1, quantity: 1 },
          })
        ).status === 401,
      'the logout to reach product-service',
      { intervalMs: 100 },
    );

    for (const service of [system.user, system.product]) {
      const health = await call<{ status: string }>(service.baseUrl, 'GET', '/health');
      t.is(health.body.status, 'ok', `${service.name}: ${health.text}`);
    }
    // `rabbitmqctl list_connections` takes no vhost filter: every connection on the broker is listed.
    const connections = await env.rabbitmqctl(['list_connections', 'vhost', 'user', '-q', '--no-table-headers']);
    const inVhost = connections
      .split('\n')
      .map((line) => line.trim().split('\t'))
      .filter(([vhost]) => vhost === identities.vhost)
      .map(([, user]) => user ?? '');
    t.deepEqual(
      [...new Set(inVhost)].sort(),
      [identities.user('product-service'), identities.user('stranger'), identities.user('user-service')].sort(),
      'each service connects as its own user (the stranger is the tap)',
    );
  },
);

test.serial(
  'product-service’s credentials → cannot consume auth.validate_token, publish on auth.events or delete it',
  async (t) => {
    const { identities } = running();
    const product = identities.url('product-service');

    t.regex(
      (await brokerAnswer(product, (channel) => channel.consume(AUTH_VALIDATE_TOKEN_QUEUE, () => undefined))) ?? '',
      /ACCESS_REFUSED/,
    );
    t.regex(
      (await brokerAnswer(product, (channel) =>
        publishConfirmed(channel, AUTH_EVENTS_EXCHANGE, 'auth.token_revoked'),
      )) ?? '',
      /ACCESS_REFUSED/,
    );
    t.regex(
      (await brokerAnswer(product, (channel) => channel.deleteExchange(AUTH_EVENTS_EXCHANGE))) ?? '',
      /ACCESS_REFUSED/,
    );
    t.regex(
      (await brokerAnswer(product, (channel) => channel.deleteQueue(AUTH_VALIDATE_TOKEN_QUEUE))) ?? '',
      /ACCESS_REFUSED/,
    );
    // What it needs stays allowed: publishing its own events.
    t.is(
      await brokerAnswer(product, (channel) => publishConfirmed(channel, PRODUCT_EVENTS_EXCHANGE, 'product.created')),
      undefined,
    );
  },
);

test.serial(
  'user-service’s credentials → cannot publish on product.events or delete it, nor publish auth events under another routing key',
  async (t) => {
    const { identities } = running();
    const user = identities.url('user-service');

    t.regex(
      (await brokerAnswer(user, (channel) => publishConfirmed(channel, PRODUCT_EVENTS_EXCHANGE, 'product.created'))) ??
        '',
      /ACCESS_REFUSED/,
    );
    t.regex(
      (await brokerAnswer(user, (channel) => channel.deleteExchange(PRODUCT_EVENTS_EXCHANGE))) ?? '',
      /ACCESS_REFUSED/,
    );
    t.regex(
      (await brokerAnswer(user, (channel) => publishConfirmed(channel, AUTH_EVENTS_EXCHANGE, 'product.created'))) ?? '',
      /ACCESS_REFUSED/,
      'topic permissions limit its routing keys on auth.events',
    );
    t.is(
      await brokerAnswer(user, (channel) => publishConfirmed(channel, AUTH_EVENTS_EXCHANGE, 'user.deactivated')),
      undefined,
    );
  },
);

test.serial(
  'a userId that is not the publisher’s own login → refused by RabbitMQ (what makes the checks below sound)',
  async (t) => {
    const { identities } = running();

    const answer = await brokerAnswer(strangerUrl, (channel) =>
      publishConfirmed(channel, '', 'nowhere', { userId: identities.user('user-service') }),
    );

    t.regex(answer ?? '', /PRECONDITION_FAILED.*user_id/);
  },
);

/** This run's instance queues of `service` (`<service>.auth-events.<host>.<pid>`) in the vhost. */
async function authEventQueues(env: TestEnvironment, vhost: string, service: string): Promise<string[]> {
  const listing = await env.rabbitmqctl(['list_queues', '-p', vhost, 'name', '-q', '--no-table-headers']);
  return listing
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => name.startsWith(`${service}.auth-events.`));
}

test.serial(
  'forged auth events through the default exchange (a stranger, or product-service’s own login) → dropped and counted; the token still validates',
  async (t) => {
    const { env, identities, system } = running();
    const { token, userId } = await newUser(system.user.baseUrl);
    const write = () =>
      call(system.product.baseUrl, 'POST', '/products', { token, json: { name: 'forgery', price: 1, quantity: 1 } });
    t.is((await write()).status, 201);
    const [productQueue] = await authEventQueues(env, identities.vhost, 'product-service');
    const [userQueue] = await authEventQueues(env, identities.vhost, 'user-service');
    t.truthy(productQueue && userQueue, 'each service consumes auth events on a queue of its own');
    const evictionsBefore = await metricSample(system.product.baseUrl, 'auth_cache_evictions_total', {
      reason: 'revocation',
    });
    const droppedBefore = {
      product: await metricSample(system.product.baseUrl, 'auth_events_unverified_sender_total'),
      user: await metricSample(system.user.baseUrl, 'auth_events_unverified_sender_total'),
    };

    for (const forger of [strangerUrl, identities.url('product-service')]) {
      const connection = await connect(forger);
      const channel: Channel = await connection.createChannel();
      for (const [queue, event] of [
        [productQueue, tokenRevokedEvent(userId)],
        [productQueue, userDeactivatedEvent(userId)],
        [userQueue, userDeactivatedEvent(userId)],
      ] as const) {
        channel.sendToQueue(queue ?? '', Buffer.from(JSON.stringify(event)), {
          messageId: event.id,
          type: event.type,
          contentType: JSON_CONTENT_TYPE,
          appId: 'user-service',
        });
      }
      await channel.close();
      await connection.close();
    }

    await waitUntil(
      async () =>
        (await metricSample(system.product.baseUrl, 'auth_events_unverified_sender_total')) ===
        droppedBefore.product + 4,
      'product-service to drop the four forged events',
      { intervalMs: 100 },
    );
    await waitUntil(
      async () =>
        (await metricSample(system.user.baseUrl, 'auth_events_unverified_sender_total')) === droppedBefore.user + 2,
      'user-service to drop the two forged events',
      { intervalMs: 100 },
    );
    t.is(
      await metricSample(system.product.baseUrl, 'auth_cache_evictions_total', { reason: 'revocation' }),
      evictionsBefore,
      'nothing was evicted',
    );
    t.is((await write()).status, 201, 'the token still validates');
    const validated = await call<{ valid: boolean }>(system.user.baseUrl, 'POST', '/validate-token', {
      json: { token },
    });
    t.true(validated.body.valid, 'user-service still holds the user active and the token unrevoked');
  },
);

test.serial(
  'a forged `valid` reply from a consumer that is not user-service → never authorises a write: the call ends as unanswered (503), counted',
  async (t) => {
    const { system } = running();
    const before = await productCount(system.databaseUrls.product);
    const forgedBefore = await metricSample(system.product.baseUrl, 'rpc_client_unverified_replies_total');
    // The stranger takes every request first (consumer priority) and answers `valid` as itself.
    const connection = await connect(strangerUrl);
    t.teardown(() => connection.close().catch(() => undefined));
    const channel = await connection.createChannel();
    let answered = 0;
    await channel.consume(
      AUTH_VALIDATE_TOKEN_QUEUE,
      (message) => {
        if (!message) return;
        const { replyTo, correlationId } = message.properties as { replyTo: string; correlationId: string };
        const reply = {
          valid: true,
          user_id: 1,
          username: 'mallory',
          expires_at: new Date(Date.now() + 600_000).toISOString(),
        };
        channel.sendToQueue(replyTo, Buffer.from(JSON.stringify(reply)), {
          correlationId,
          contentType: JSON_CONTENT_TYPE,
        });
        answered += 1;
      },
      { noAck: true, priority: 10 },
    );

    const attempts = await Promise.all(
      [1, 2, 3].map((n) =>
        call(system.product.baseUrl, 'POST', '/products', {
          token: unsignedToken(n),
          json: { name: `forged-${n}`, price: 1, quantity: 1 },
        }),
      ),
    );

    t.deepEqual(
      attempts.map((attempt) => attempt.status),
      [503, 503, 503],
    );
    t.is(answered, 3, 'the stranger answered every call');
    t.is(await metricSample(system.product.baseUrl, 'rpc_client_unverified_replies_total'), forgedBefore + 3);
    t.is(await productCount(system.databaseUrls.product), before, 'no product written');
    await channel.close();
  },
);

test.serial(
  'a caller that is not in AUTH_RPC_ALLOWED_CALLERS → `forbidden`, counted, and no product is written',
  async (t) => {
    const { identities, system } = running();
    const token = await newToken(system.user.baseUrl);
    const before = await productCount(system.databaseUrls.product);
    // A product-service logging in as the stranger: user-service does not answer it.
    const separated = identityEnvironment(identities);
    const intruder = await ServiceProcess.start('product-service', {
      ...separated.product,
      DATABASE_URL: system.databaseUrls.product,
      AMQP_URL: strangerUrl,
      PRODUCT_SERVICE_BROKER_USER: identities.user('stranger'),
      AUTH_RPC_TIMEOUT_MS: String(RPC_TIMEOUT_MS),
    });
    t.teardown(() => intruder.stop());
    await intruder.waitForLog(/ready to validate tokens/);

    const refused = await call(intruder.baseUrl, 'POST', '/products', {
      token,
      json: { name: 'intruder', price: 1, quantity: 1 },
    });

    t.is(refused.status, 503, refused.text);
    t.is(await metricSample(system.user.baseUrl, 'rpc_server_requests_total', { outcome: 'forbidden' }), 1);
    t.is(await productCount(system.databaseUrls.product), before);
    await intruder.waitForLog(/token validation failed remotely/);
  },
);

test.serial(
  'the raw reply to a stranger’s token check → an `error` reply with code forbidden, from user-service’s broker user',
  async (t) => {
    const { identities, system } = running();
    const token = await newToken(system.user.baseUrl);
    const connection = await connect(strangerUrl);
    t.teardown(() => connection.close().catch(() => undefined));
    const channel = await connection.createChannel();
    const replies: { body: unknown; userId: unknown }[] = [];
    // Direct Reply-to: the consumer must be on the channel before the request names it.
    await channel.consume(
      DIRECT_REPLY_TO_QUEUE,
      (message) => {
        if (message) {
          replies.push({
            body: JSON.parse(message.content.toString()),
            userId: (message.properties as { userId?: unknown }).userId,
          });
        }
      },
      { noAck: true },
    );
    channel.sendToQueue(AUTH_VALIDATE_TOKEN_QUEUE, Buffer.from(JSON.stringify({ token })), {
      replyTo: DIRECT_REPLY_TO_QUEUE,
      correlationId: 'stranger-1',
      contentType: JSON_CONTENT_TYPE,
      userId: identities.user('stranger'),
    });

    await waitUntil(() => replies.length > 0, 'the reply');
    const answered = replies[0]!;

    t.like(answered.body, { error: { code: 'forbidden' } });
    t.is(answered.userId, identities.user('user-service'));
  },
);
