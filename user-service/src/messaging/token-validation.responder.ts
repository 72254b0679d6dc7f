import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';

import {
  JSON_CONTENT_TYPE,
  MESSAGE_TYPES,
  REQUEST_ID_HEADER,
  TRACEPARENT_HEADER,
  decodeValidateTokenRequest,
  isSafeRequestId,
  isValidTraceparent,
  type ValidateTokenReply,
} from '@shop/shared-contracts';
import { type HealthCheck, type Logger, probe, runWithTraceContext } from '@shop/shared-runtime';

import type { RpcQueueType } from '../config';
import type { RpcServerObserver, RpcServerOutcome } from '../metrics';
import type { TokenValidation } from '../services/auth.service';
import { SERVICE_NAME } from '../service-info';
import { DeliveryAcks } from './delivery-acks';

export interface TokenValidationResponderDeps {
  queue: string;
  /** The queue's `x-queue-type` when this responder declares it. */
  queueType: RpcQueueType;
  /** Requests one instance works on at once; the broker holds the rest for other instances. */
  prefetch: number;
  validate: (token: string) => Promise<TokenValidation>;
  /** This service's broker user: every reply carries it as `userId`, which RabbitMQ checks. */
  userId: string;
  /**
   * Broker users (a request's AMQP `userId`, checked by RabbitMQ) whose token checks are answered;
   * any other caller gets a `forbidden` error reply. Undefined: every caller is answered.
   */
  allowedCallers?: readonly string[] | undefined;
  logger: Logger;
  /** Told how each request ended; metrics implement it. */
  observer?: RpcServerObserver;
}

/**
 * Answers `auth.validate_token` RPCs. Per message: decode against the shared schema, validate,
 * publish the reply to `replyTo` with the request's correlationId, then ack — reply before ack,
 * every message acked exactly once (those finished together in one frame, see DeliveryAcks),
 * nothing ever requeued, so a poison message cannot loop.
 */
export class TokenValidationResponder {
  private readonly queue: string;
  private readonly queueType: RpcQueueType;
  private readonly prefetch: number;
  private readonly validate: (token: string) => Promise<TokenValidation>;
  private readonly userId: string;
  private readonly allowedCallers: ReadonlySet<string> | undefined;
  private readonly logger: Logger;
  private readonly observer: RpcServerObserver | undefined;

  private channel: Channel | undefined;
  private consumerTag: string | undefined;
  /** Set while the queue exists with another type than configured: /health says so. */
  private typeMismatch: string | undefined;
  private stopping = false;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(deps: TokenValidationResponderDeps) {
    this.queue = deps.queue;
    this.queueType = deps.queueType;
    this.prefetch = deps.prefetch;
    this.validate = deps.validate;
    this.userId = deps.userId;
    this.allowedCallers = deps.allowedCallers ? new Set(deps.allowedCallers) : undefined;
    this.logger = deps.logger.child({ component: 'rpc-responder', queue: deps.queue });
    this.observer = deps.observer;
  }

  /** The broker connection's `setup`: runs on every (re)connect, so the queue and consumer come back. */
  readonly setup = async (model: ChannelModel): Promise<void> => {
    if (this.stopping) return;
    const channel = await model.createChannel();
    channel.on('error', (error: Error) => {
      this.logger.warn({ err: error.message }, 'RPC channel error');
    });
    channel.on('close', () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.consumerTag = undefined;
      // The channel died under a live connection: reconnect the whole model to get a clean one.
      if (!this.stopping) void model.close().catch(() => undefined);
    });
    await channel.prefetch(this.prefetch);
    const acks = new DeliveryAcks(channel, (error) => {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not ack RPC requests');
    });
    await this.attach(channel, model, acks);
    this.channel = channel;
  };

  /** Whether this instance is consuming its queue right now. */
  get isConsuming(): boolean {
    return this.consumerTag !== undefined && !this.stopping;
  }

  /** `GET /health`'s broker probe: up when connected and consuming. */
  healthCheck(): HealthCheck {
    return {
      name: 'broker',
      critical: false,
      check: async () => {
        const status = await probe(async () => {
          const channel = this.channel;
          if (!channel || !this.consumerTag) throw new Error('not connected to RabbitMQ');
          await channel.checkQueue(this.queue);
        }, 2000);
        return {
          ...status,
          queue: this.queue,
          consumer: this.isConsuming ? 'attached' : 'detached',
          ...(this.typeMismatch ? { warning: this.typeMismatch } : {}),
        };
      },
    };
  }

  /** Stops taking requests and waits (up to `timeoutMs`) for the ones in hand to be answered. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    const { channel, consumerTag } = this;
    if (channel && consumerTag) await channel.cancel(consumerTag).catch(() => undefined);
    this.consumerTag = undefined;
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
    }
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }

  private async attach(channel: Channel, model: ChannelModel, acks: DeliveryAcks): Promise<void> {
    // Declared on every (re)connect: the requester publishes with `mandatory`, so the queue
    // must exist whenever a responder is up.
    await this.declareQueue(model);
    const { consumerTag } = await channel.consume(this.queue, (message) => {
      if (message === null) {
        // The broker cancelled us (queue deleted): declare it again and resume.
        this.consumerTag = undefined;
        this.logger.warn('consumer cancelled by the broker; re-attaching');
        this.attach(channel, model, acks).catch((error: unknown) => {
          this.logger.error({ err: error }, 'could not re-attach; reconnecting');
          void model.close().catch(() => undefined);
        });
        return;
      }
      acks.received(message);
      void this.handle(channel, acks, message);
    });
    this.consumerTag = consumerTag;
    this.logger.info('consuming token-validation requests');
  }

  /**
   * Declares the queue with its configured type, on a channel of its own: RabbitMQ cannot change
   * the type of an existing queue and refuses with PRECONDITION_FAILED, closing the channel that
   * asked. Then the queue is used as it is (consuming works whatever its type), with one clear
   * error line and a warning in /health, instead of a reconnect loop that would stop token
   * checks altogether.
   */
  private async declareQueue(model: ChannelModel): Promise<void> {
    const channel = await model.createChannel();
    // The refusal is also emitted as a channel error; it is reported below.
    channel.on('error', () => undefined);
    try {
      await channel.assertQueue(this.queue, { durable: true, arguments: { 'x-queue-type': this.queueType } });
      this.typeMismatch = undefined;
    } catch (error) {
      if (!isPreconditionFailed(error)) throw error;
      this.typeMismatch =
        `queue ${this.queue} exists with another type than AUTH_RPC_QUEUE_TYPE=${this.queueType}; ` +
        'it is used as it is. To change its type, delete the queue while no responder runs (requests ' +
        'waiting in it are lost; their callers get 503), or set AUTH_RPC_QUEUE_TYPE to its type.';
      this.logger.error({ err: error.message, configured_type: this.queueType }, this.typeMismatch);
      return;
    }
    await channel.close().catch(() => undefined);
  }

  private async handle(channel: Channel, acks: DeliveryAcks, message: ConsumeMessage): Promise<void> {
    this.inFlight += 1;
    const started = performance.now();
    const properties = message.properties as {
      replyTo?: unknown;
      correlationId?: unknown;
      headers?: Record<string, unknown>;
    };
    const { replyTo, correlationId } = properties;
    const incomingRequestId = properties.headers?.[REQUEST_ID_HEADER];
    const incomingTraceparent = properties.headers?.[TRACEPARENT_HEADER];
    const requestId = isSafeRequestId(incomingRequestId) ? incomingRequestId : undefined;
    const traceparent = isValidTraceparent(incomingTraceparent) ? incomingTraceparent : undefined;
    let outcome: RpcServerOutcome = 'internal';
    await runWithTraceContext({ requestId: requestId ?? '', ...(traceparent ? { traceparent } : {}) }, async () => {
      // Plain fields rather than a child logger: pino serialises a child's bindings when it is
      // made, which cost more per request than the validation itself (profiled in the bench).
      const fields = { correlation_id: correlationId };
      try {
        if (hasExpired(message)) {
          // The requester has stopped waiting: answering would be wasted work.
          outcome = 'expired';
          return;
        }
        const reply = await this.replyFor(message, fields);
        outcome = outcomeOf(reply);
        if (typeof replyTo === 'string' && replyTo.length > 0) {
          channel.sendToQueue(replyTo, Buffer.from(JSON.stringify(reply)), {
            correlationId: typeof correlationId === 'string' ? correlationId : undefined,
            contentType: JSON_CONTENT_TYPE,
            type: MESSAGE_TYPES.validateTokenReply,
            appId: SERVICE_NAME,
            userId: this.userId,
            timestamp: Math.floor(Date.now() / 1000),
            headers: {
              ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}),
              ...(traceparent ? { [TRACEPARENT_HEADER]: traceparent } : {}),
            },
          });
        } else {
          outcome = 'dropped';
          this.logger.warn(fields, 'RPC request without replyTo dropped');
        }
      } catch (error) {
        outcome = 'internal';
        this.logger.error({ ...fields, err: error }, 'could not reply to RPC request');
      } finally {
        // Exactly once, whatever happened above; never requeued. If the channel is gone the
        // broker redelivers the request to another consumer, which answers it instead.
        acks.finish(message);
        const seconds = (performance.now() - started) / 1000;
        this.observer?.requestHandled(outcome, seconds);
        this.logger.info(
          { ...fields, outcome, duration_ms: Math.round(seconds * 10_000) / 10 },
          'token-validation request handled',
        );
        this.inFlight -= 1;
        if (this.inFlight === 0) {
          this.idleWaiters.splice(0).forEach((wake) => {
            wake();
          });
        }
      }
    });
  }

  private async replyFor(message: ConsumeMessage, fields: { correlation_id: unknown }): Promise<ValidateTokenReply> {
    const caller = (message.properties as { userId?: unknown }).userId;
    if (this.allowedCallers && !(typeof caller === 'string' && this.allowedCallers.has(caller))) {
      // Whoever may publish on the default exchange can reach this queue; only the callers'
      // own logins can send a request whose userId names them.
      this.logger.warn({ ...fields, caller }, 'token check from a broker user not in AUTH_RPC_ALLOWED_CALLERS refused');
      return { error: { code: 'forbidden', message: 'This broker user may not validate tokens.' } };
    }
    const decoded = decodeValidateTokenRequest(message.content);
    if (!decoded.ok) {
      this.logger.warn({ ...fields, problem: decoded.error }, 'malformed RPC request');
      return { error: { code: 'bad_request', message: decoded.error } };
    }
    try {
      return await this.validate(decoded.value.token);
    } catch (error) {
      this.logger.error({ ...fields, err: error }, 'token validation failed');
      return { error: { code: 'internal', message: 'Token validation failed; retry later.' } };
    }
  }
}

/** RabbitMQ's 406: a declaration whose arguments differ from the existing queue's. */
function isPreconditionFailed(error: unknown): error is Error & { code: number } {
  return error instanceof Error && (error as { code?: unknown }).code === 406;
}

function outcomeOf(reply: ValidateTokenReply): RpcServerOutcome {
  if ('error' in reply) return reply.error.code;
  return reply.valid ? 'valid' : 'invalid';
}

/**
 * Whether the requester's deadline (`timestamp` + `expiration`) has certainly passed. The
 * AMQP timestamp has whole seconds, so a second of slack keeps this from ever firing early.
 */
function hasExpired(message: ConsumeMessage): boolean {
  const { timestamp, expiration } = message.properties as { timestamp?: unknown; expiration?: unknown };
  const expiresInMs = Number(expiration);
  if (typeof timestamp !== 'number' || !Number.isFinite(expiresInMs)) return false;
  return Date.now() > (timestamp + 1) * 1000 + expiresInMs;
}
