import type { Channel, ChannelModel, ConsumeMessage, Message } from 'amqplib';
import { v4 as uuidv4 } from 'uuid';

import {
  DIRECT_REPLY_TO_QUEUE,
  JSON_CONTENT_TYPE,
  MESSAGE_TYPES,
  REQUEST_ID_HEADER,
  TRACEPARENT_HEADER,
  decodeValidateTokenReply,
  type InvalidTokenReason,
  type ValidateTokenRequest,
} from '@shop/shared-contracts';
import {
  currentTraceContext,
  type HealthCheck,
  type Logger,
  probe,
  ServiceUnavailableError,
  UnauthorizedError,
} from '@shop/shared-runtime';
import { notePublishResult, type FlowControl } from '@shop/shared-runtime/messaging';

import type { RpcClientObserver, RpcClientOutcome } from '../metrics';
import type { AuthenticatedUser, TokenValidator } from '../services/token-validator';
import { SERVICE_NAME } from '../service-info';

/** How long the health probe's passive check of the queue may take, in ms. */
const QUEUE_CHECK_TIMEOUT_MS = 2000;

/** The AMQP reply code of a passive declare of something that does not exist. */
const NOT_FOUND = 404;

/** Calls allowed to wait for a reply at once, unless configured otherwise. */
export const DEFAULT_MAX_PENDING = 10_000;

const REFUSAL_DETAILS: Record<InvalidTokenReason, string> = {
  malformed: 'The bearer token is malformed.',
  bad_signature: 'The bearer token signature is invalid.',
  expired: 'The bearer token has expired.',
  revoked: 'The bearer token has been revoked.',
  user_inactive: 'The user of this token is inactive.',
  user_not_found: 'The user of this token no longer exists.',
};

export interface TokenValidationClientDeps {
  /** Queue user-service consumes (`AUTH_RPC_QUEUE`). */
  queue: string;
  /** How long a call waits for its reply, in ms; also the request's AMQP `expiration`. */
  timeoutMs: number;
  /** Calls allowed to wait at once; further calls fail at once. Default {@link DEFAULT_MAX_PENDING}. */
  maxPending?: number;
  /** This service's broker user: every request carries it as `userId`, which RabbitMQ checks. */
  userId: string;
  /**
   * user-service's broker user (`USER_SERVICE_BROKER_USER`): a reply whose `userId` is another is
   * dropped, and the call waits on as if it had not come.
   */
  responderUserId: string;
  logger: Logger;
  /** Told how each call ended and of every dropped reply; metrics implement it. */
  observer?: RpcClientObserver;
  /**
   * The connection's flow control. While RabbitMQ blocks publishing (a memory or disk alarm; a
   * full write buffer) a call fails at once with 503 instead of waiting for its timeout, and the
   * calls waiting when the broker blocks fail at once too: user-service cannot publish its replies
   * through a blocked broker either.
   */
  flowControl?: FlowControl;
}

/** Counters since start, for tests, health and metrics. */
export interface TokenValidationStats {
  /** Requests published. */
  sent: number;
  /** Calls that got no reply within the timeout. */
  timeouts: number;
  /** Calls failed without waiting: no channel, too many pending, returned unroutable, channel lost. */
  unavailable: number;
  /** Calls failed at once (or cut short) because RabbitMQ was blocking publishing. */
  blocked: number;
  /** Replies dropped because no pending call had their correlationId (late, duplicate or foreign). */
  lateOrUnknownReplies: number;
  /** Replies that were not JSON or matched none of the contract's reply shapes. */
  malformedReplies: number;
  /** Replies dropped because their `userId` was not user-service's broker user. */
  unverifiedReplies: number;
  /** `{ error: ... }` replies: user-service could not validate the token. */
  errorReplies: number;
}

/** Timeouts in a row, with no reply at all between them, after which a fresh channel is used. */
const SILENT_TIMEOUTS_BEFORE_NEW_CHANNEL = 5;

interface PendingCall {
  /** The channel the request went out on: its replies can only come back there. */
  channel: Channel;
  resolve: (user: AuthenticatedUser) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The requester side of the `auth.validate_token` RPC over RabbitMQ Direct Reply-to.
 *
 * One channel, opened by {@link setup} on every (re)connect, consumes `amq.rabbitmq.reply-to`
 * and publishes the requests, each with a fresh correlationId kept in a map until its reply,
 * its timeout, an unroutable return or the loss of the channel settles it. Nothing is ever
 * buffered: while there is no channel, calls fail at once with 503, so an HTTP request never
 * waits on a broker that is down.
 */
export class TokenValidationClient implements TokenValidator {
  private readonly queue: string;
  private readonly timeoutMs: number;
  private readonly maxPending: number;
  private readonly userId: string;
  private readonly responderUserId: string;
  private readonly logger: Logger;
  private readonly observer: RpcClientObserver | undefined;
  private readonly flowControl: FlowControl | undefined;
  /** How each failed call ended, keyed by the error it was rejected with. */
  private readonly failureOutcomes = new WeakMap<Error, RpcClientOutcome>();

  private readonly pending = new Map<string, PendingCall>();
  private readonly counters: TokenValidationStats = {
    sent: 0,
    timeouts: 0,
    unavailable: 0,
    blocked: 0,
    lateOrUnknownReplies: 0,
    malformedReplies: 0,
    unverifiedReplies: 0,
    errorReplies: 0,
  };
  private channel: Channel | undefined;
  /**
   * The connection {@link channel} is on: the health probe opens its passive check there, and a
   * channel that stopped getting replies is replaced by a fresh one on it.
   */
  private model: ChannelModel | undefined;
  private closed = false;
  /** Timeouts in a row on the current channel, with no reply or return between them. */
  private silentTimeouts = 0;
  /** Channels this client closed itself to replace them: their close is not a lost connection. */
  private readonly replaced = new WeakSet<Channel>();

  constructor(deps: TokenValidationClientDeps) {
    this.queue = deps.queue;
    this.timeoutMs = deps.timeoutMs;
    this.maxPending = deps.maxPending ?? DEFAULT_MAX_PENDING;
    this.userId = deps.userId;
    this.responderUserId = deps.responderUserId;
    this.logger = deps.logger.child({ component: 'rpc-client', queue: deps.queue });
    this.observer = deps.observer;
    this.flowControl = deps.flowControl;
    // A broker's block stops user-service's replies too, so nothing waiting can be answered. A full
    // write buffer only delays: the calls in it still go out.
    this.flowControl?.onChange((state) => {
      if (state.blocked && state.cause === 'broker') {
        this.failPending(() => true, this.blockedDetail(state.reason), 'blocked');
      }
    });
  }

  /** The broker connection's `setup`: runs after every (re)connect, so the channel comes back. */
  readonly setup = async (model: ChannelModel): Promise<void> => {
    this.model = model;
    const channel = await model.createChannel();
    channel.on('error', (error: Error) => {
      this.logger.warn({ err: error.message }, 'RPC channel error');
    });
    channel.on('close', () => {
      this.onChannelClosed(channel, model);
    });
    channel.on('return', (message: Message) => {
      this.onReturn(message);
    });
    // Direct Reply-to requires the consumer on this channel before the first publish naming it.
    await channel.consume(
      DIRECT_REPLY_TO_QUEUE,
      (message) => {
        this.onReply(channel, message);
      },
      { noAck: true },
    );
    // close() may have run while the channel was opening.
    if (this.closed) {
      await channel.close();
      return;
    }
    this.channel = channel;
    this.silentTimeouts = 0;
    this.logger.info('ready to validate tokens');
  };

  /** Whether calls can be sent right now (connected, channel open, not closed). */
  get isReady(): boolean {
    return this.channel !== undefined;
  }

  /** Calls waiting for a reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** A copy of the counters since start. */
  get stats(): Readonly<TokenValidationStats> {
    return { ...this.counters };
  }

  /**
   * Asks user-service whether `token` is valid. Resolves with its user; rejects with an
   * UnauthorizedError when refused, or a ServiceUnavailableError when there is no answer
   * within the timeout, no consumer, no broker, or an answer that is not one.
   */
  validate(token: string, context: { requestId: string }): Promise<AuthenticatedUser> {
    const started = performance.now();
    const call = this.call(token, context);
    const observe = (outcome: RpcClientOutcome) => {
      this.observer?.callSettled(outcome, (performance.now() - started) / 1000);
    };
    call.then(
      () => {
        observe('valid');
      },
      (error: unknown) => {
        observe(
          error instanceof UnauthorizedError ? 'invalid' : (this.failureOutcomes.get(error as Error) ?? 'unavailable'),
        );
      },
    );
    return call;
  }

  private call(token: string, context: { requestId: string }): Promise<AuthenticatedUser> {
    const channel = this.channel;
    if (!channel) return Promise.reject(this.unavailable('The authentication service cannot be reached right now.'));
    const flow = this.flowControl?.state;
    if (flow?.blocked) return Promise.reject(this.blocked(this.blockedDetail(flow.reason)));
    if (this.pending.size >= this.maxPending) {
      return Promise.reject(this.unavailable('Too many token checks are waiting; try again shortly.'));
    }

    const correlationId = uuidv4();
    const request: ValidateTokenRequest = { token };
    const traceparent = currentTraceContext()?.traceparent;
    return new Promise<AuthenticatedUser>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(correlationId)) return;
        this.counters.timeouts += 1;
        reject(this.failure(`The authentication service did not answer within ${this.timeoutMs} ms.`, 'timeout'));
        this.onSilentTimeout(channel);
      }, this.timeoutMs);
      this.pending.set(correlationId, { channel, resolve, reject, timer });

      try {
        const accepted = channel.sendToQueue(this.queue, Buffer.from(JSON.stringify(request)), {
          // An unroutable request (no queue) comes back as a `return` at once instead of timing out.
          mandatory: true,
          correlationId,
          replyTo: DIRECT_REPLY_TO_QUEUE,
          // Nobody waits longer than this, so the broker drops the request instead of delivering it late.
          expiration: String(this.timeoutMs),
          contentType: JSON_CONTENT_TYPE,
          type: MESSAGE_TYPES.validateTokenRequest,
          appId: SERVICE_NAME,
          userId: this.userId,
          messageId: uuidv4(),
          timestamp: Math.floor(Date.now() / 1000),
          headers: {
            [REQUEST_ID_HEADER]: context.requestId,
            ...(traceparent ? { [TRACEPARENT_HEADER]: traceparent } : {}),
          },
        });
        this.counters.sent += 1;
        if (this.flowControl) notePublishResult(this.flowControl, channel, accepted);
      } catch (error) {
        // The channel closed under us between the check above and this publish.
        this.settle(correlationId)?.reject(
          this.unavailable('The authentication service cannot be reached right now.', error),
        );
      }
    });
  }

  /**
   * `GET /health`'s broker probe: up while the RPC channel is open and the queue exists. The
   * queue is user-service's: this service only checks for it (passively, on a channel of its own,
   * since a failed check closes its channel), and reads as down — degraded, not unready — until
   * its owner has declared it.
   */
  healthCheck(): HealthCheck {
    return {
      name: 'broker',
      critical: false,
      check: async () => {
        const { channel, model } = this;
        if (!channel || !model)
          return { status: 'down' as const, queue: this.queue, error: 'not connected to RabbitMQ' };
        const queueStatus = await probe(() => this.checkQueueExists(model), QUEUE_CHECK_TIMEOUT_MS);
        return queueStatus.status === 'up'
          ? { status: 'up' as const, queue: this.queue, pending: this.pending.size }
          : { ...queueStatus, queue: this.queue, pending: this.pending.size };
      },
    };
  }

  private async checkQueueExists(model: ChannelModel): Promise<void> {
    const probeChannel = await model.createChannel();
    probeChannel.on('error', () => undefined);
    try {
      await probeChannel.checkQueue(this.queue);
    } catch (error) {
      if ((error as { code?: unknown }).code === NOT_FOUND) {
        throw new Error(`queue ${this.queue} does not exist yet: waiting for user-service, its owner, to declare it`);
      }
      throw error;
    }
    await probeChannel.close().catch(() => undefined);
  }

  /** Fails every pending call with 503 and closes the channel; later calls fail at once. */
  async close(): Promise<void> {
    this.closed = true;
    const channel = this.channel;
    this.channel = undefined;
    this.model = undefined;
    this.failPending(() => true, 'The service is shutting down.');
    if (channel) await channel.close().catch(() => undefined);
  }

  private onReply(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the reply consumer: replies can no longer arrive on this channel.
      this.logger.warn('reply consumer cancelled by the broker; reopening the channel');
      void channel.close().catch(() => undefined);
      return;
    }
    const { correlationId, userId: sender } = message.properties as { correlationId?: unknown; userId?: unknown };
    if (sender !== this.responderUserId) {
      // Checked before the call is settled: a forged reply must not end the call (nor its real
      // reply be taken for a late one), so the call goes on waiting for user-service.
      this.counters.unverifiedReplies += 1;
      this.observer?.replyFromStranger();
      this.logger.warn(
        { correlation_id: correlationId, user_id: sender },
        'dropped a token-validation reply not sent by user-service (AMQP userId is not its broker user)',
      );
      return;
    }
    this.silentTimeouts = 0;
    const call = typeof correlationId === 'string' ? this.settle(correlationId) : undefined;
    if (!call) {
      this.counters.lateOrUnknownReplies += 1;
      this.observer?.replyDropped();
      this.logger.debug({ correlation_id: correlationId }, 'dropped a late or unknown reply');
      return;
    }

    const decoded = decodeValidateTokenReply(message.content);
    if (!decoded.ok) {
      this.counters.malformedReplies += 1;
      this.logger.warn({ correlation_id: correlationId, problem: decoded.error }, 'malformed token-validation reply');
      call.reject(this.failure('The authentication service sent an unreadable answer.', 'malformed_reply'));
      return;
    }
    const reply = decoded.value;
    if ('error' in reply) {
      this.counters.errorReplies += 1;
      this.logger.warn({ correlation_id: correlationId, rpc_error: reply.error }, 'token validation failed remotely');
      call.reject(
        this.failure('The authentication service could not check the token; try again shortly.', 'error_reply'),
      );
    } else if (reply.valid) {
      call.resolve({ userId: reply.user_id, username: reply.username, expiresAt: new Date(reply.expires_at) });
    } else {
      call.reject(new UnauthorizedError(REFUSAL_DETAILS[reply.reason], 'Bearer error="invalid_token"'));
    }
  }

  /** A mandatory request no queue took: no responder has declared the queue. */
  private onReturn(message: Message): void {
    this.silentTimeouts = 0;
    const correlationId = (message.properties as { correlationId?: unknown }).correlationId;
    const call = typeof correlationId === 'string' ? this.settle(correlationId) : undefined;
    const { replyText } = message.fields as { replyText?: unknown };
    this.logger.warn({ reason: replyText }, 'token-validation request unroutable: is user-service up?');
    call?.reject(this.unavailable('The authentication service is not listening.'));
  }

  private onChannelClosed(channel: Channel, model: ChannelModel): void {
    if (this.channel === channel) this.channel = undefined;
    this.failPending((call) => call.channel === channel, 'The connection to the authentication service was lost.');
    if (this.closed || this.replaced.has(channel)) return;
    // When only the channel died, the connection is still up and recovery would never run
    // setup again: closing the connection makes it reconnect and reopen a clean channel.
    this.logger.warn('RPC channel closed; reconnecting');
    void model.close().catch(() => undefined);
  }

  /**
   * After {@link SILENT_TIMEOUTS_BEFORE_NEW_CHANNEL} timeouts in a row with nothing at all coming
   * back, the requests go out on a fresh channel of the same connection. RabbitMQ 3.10 can leave
   * a channel that first published to a quorum queue during its leader election publishing into
   * the void for good (seen in the cluster fault test: every request of that channel lost, the
   * other instances' fine); a new channel starts from the queue's current leader. The
   * connection stays, so the validation cache is not flushed; while user-service is really
   * down this costs a channel every few timeouts, nothing more.
   */
  private onSilentTimeout(channel: Channel): void {
    if (this.channel !== channel) return;
    this.silentTimeouts += 1;
    const model = this.model;
    if (this.silentTimeouts < SILENT_TIMEOUTS_BEFORE_NEW_CHANNEL || !model || this.closed) return;
    this.logger.warn(
      { timeouts: this.silentTimeouts },
      'no reply to the last token checks on this channel; sending them on a new channel',
    );
    this.replaced.add(channel);
    this.channel = undefined;
    this.silentTimeouts = 0;
    void channel.close().catch(() => undefined);
    this.setup(model).catch((error: unknown) => {
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'could not open a new RPC channel',
      );
      void model.close().catch(() => undefined);
    });
  }

  /** Removes a pending call and stops its timer; undefined when it was already settled. */
  private settle(correlationId: string): PendingCall | undefined {
    const call = this.pending.get(correlationId);
    if (!call) return undefined;
    this.pending.delete(correlationId);
    clearTimeout(call.timer);
    return call;
  }

  private failPending(
    matches: (call: PendingCall) => boolean,
    detail: string,
    why: 'unavailable' | 'blocked' = 'unavailable',
  ): void {
    for (const [correlationId, call] of this.pending) {
      if (matches(call)) {
        this.settle(correlationId)?.reject(why === 'blocked' ? this.blocked(detail) : this.unavailable(detail));
      }
    }
  }

  private blockedDetail(reason: string): string {
    return `The message broker is not accepting messages right now (${reason}); try again shortly.`;
  }

  /** Counts and builds the error of a call failed at once because publishing is blocked. */
  private blocked(detail: string): ServiceUnavailableError {
    this.counters.blocked += 1;
    return this.failure(detail, 'blocked');
  }

  /** Counts and builds the error of a call failed without an answer. */
  private unavailable(detail: string, cause?: unknown): ServiceUnavailableError {
    this.counters.unavailable += 1;
    return this.failure(detail, 'unavailable', cause);
  }

  private failure(detail: string, outcome: RpcClientOutcome, cause?: unknown): ServiceUnavailableError {
    const error = new ServiceUnavailableError(detail, { cause });
    this.failureOutcomes.set(error, outcome);
    return error;
  }
}
