/**
 * The ceiling of the token-validation RPC: a bare amqplib responder on the same broker that
 * does the same jwt verify as user-service (HS256 pinned, issuer, audience, a KeyObject
 * secret) and nothing else — no schema check, no user lookup, no logging. Run as its own
 * process, like user-service: `node bare-echo.js '{"amqpUrl",...}'`; prints the ready line.
 */
import { connect } from 'amqplib';
import jwt from 'jsonwebtoken';
import { createSecretKey } from 'node:crypto';

import { announceReady, workerInput } from '../processes';

export interface BareEchoInput {
  amqpUrl: string;
  queue: string;
  secretKey: string;
  issuer: string;
  audience: string;
  /** Same as user-service's AUTH_RPC_PREFETCH default, so both get the same pipelining. */
  prefetch: number;
}

async function main(): Promise<void> {
  const input = workerInput() as BareEchoInput;
  const key = createSecretKey(Buffer.from(input.secretKey, 'utf8'));
  const model = await connect(input.amqpUrl, { noDelay: true });
  const channel = await model.createChannel();
  await channel.prefetch(input.prefetch);
  await channel.assertQueue(input.queue, { durable: false, autoDelete: true });
  await channel.consume(input.queue, (message) => {
    if (message === null) return;
    let reply: unknown;
    try {
      const { token } = JSON.parse(message.content.toString()) as { token: string };
      const claims = jwt.verify(token, key, {
        algorithms: ['HS256'],
        issuer: input.issuer,
        audience: input.audience,
      }) as jwt.JwtPayload;
      reply = {
        valid: true,
        user_id: Number(claims.sub),
        username: claims.username as string,
        expires_at: new Date((claims.exp ?? 0) * 1000).toISOString(),
      };
    } catch {
      reply = { valid: false, reason: 'bad_signature' };
    }
    const { replyTo, correlationId } = message.properties as { replyTo: string; correlationId: string };
    channel.sendToQueue(replyTo, Buffer.from(JSON.stringify(reply)), {
      correlationId,
      contentType: 'application/json',
    });
    channel.ack(message);
  });
  process.once('SIGTERM', () => {
    void model.close().finally(() => process.exit(0));
  });
  announceReady();
}

main().catch((error: unknown) => {
  process.stderr.write(`bare-echo: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
