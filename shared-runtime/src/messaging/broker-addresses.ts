import type { Options } from 'amqplib';

import { redactUrl } from '../redact-url';

/** The fields of amqplib's object form of a connect target that a URL can set. */
const CONNECT_FIELDS = [
  'protocol',
  'hostname',
  'port',
  'username',
  'password',
  'vhost',
  'heartbeat',
  'frameMax',
  'channelMax',
  'locale',
  'maxFrameSize',
] as const;

/**
 * A broker's addresses, one or a cluster's nodes, as the single target amqplib connects to.
 *
 * amqplib 2.x takes one URL and has no list form (amqp-node/amqplib#319). Its recovering
 * connection calls `connect` with the same target on every attempt, and `connect` reads an object
 * target's fields afresh each time. So with several addresses the target is an object whose fields
 * follow the current address, and {@link advance} moves on after a failed attempt or a lost
 * connection: the next attempt, with the usual backoff, goes to the next node, and round again.
 * One address stays a plain URL string, exactly as amqplib parses it.
 */
export class BrokerAddresses {
  private readonly urls: readonly string[];
  private readonly endpoints: readonly Options.Connect[];
  private index = 0;

  /** `urls` in the order they are tried; at least one. */
  constructor(urls: readonly string[]) {
    if (urls.length === 0) throw new Error('BrokerAddresses needs at least one broker URL');
    this.urls = urls;
    this.endpoints = urls.map(endpointOf);
  }

  /** What to pass to amqplib's `connect`: the URL itself, or a target that follows {@link advance}. */
  get target(): string | Options.Connect {
    const only = this.urls[0];
    if (this.urls.length === 1 && only !== undefined) return only;
    const current = (): Options.Connect => this.endpoints[this.index] ?? {};
    // Getters, not a copy: amqplib reads them at each connect attempt.
    const target: Options.Connect = {};
    for (const key of CONNECT_FIELDS) {
      Object.defineProperty(target, key, { enumerable: true, get: () => current()[key] });
    }
    return target;
  }

  /** The address the next (or current) connection uses, without its password: for logs. */
  get current(): string {
    return redactUrl(this.urls[this.index] ?? '');
  }

  /** Moves to the next address (round robin); a no-op with one address. */
  advance(): void {
    this.index = (this.index + 1) % this.urls.length;
  }
}

/**
 * A URL as amqplib's own string parsing reads it: brackets off an IPv6 host, the default port
 * by scheme, `guest`/`guest` only when both user and password are absent, the vhost still
 * escaped (amqplib unescapes it in both forms), and the tuning parameters of the query.
 */
function endpointOf(url: string): Options.Connect {
  const parts = new URL(url);
  const endpoint: Options.Connect = {
    protocol: parts.protocol.replace(/:$/, ''),
    hostname: parts.hostname.replace(/^\[|\]$/g, ''),
    vhost: parts.pathname.slice(1),
  };
  const port = Number.parseInt(parts.port, 10);
  if (Number.isInteger(port)) endpoint.port = port;
  if (parts.username !== '' || parts.password !== '') {
    endpoint.username = decodeURIComponent(parts.username);
    endpoint.password = decodeURIComponent(parts.password);
  }
  for (const key of ['heartbeat', 'frameMax', 'channelMax', 'maxFrameSize'] as const) {
    const value = parts.searchParams.get(key);
    if (value !== null) endpoint[key] = Number(value);
  }
  const locale = parts.searchParams.get('locale');
  if (locale !== null) endpoint.locale = locale;
  return endpoint;
}
