import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxyOptions {
  /** Where connections are forwarded to, e.g. the broker's host. */
  targetHost: string;
  targetPort: number;
  /** Interface the proxy listens on. Default `127.0.0.1`. */
  listenHost?: string;
}

/**
 * A TCP forwarder between one client under test and a real server, to stage an outage of that
 * server for that client alone: {@link cut} drops every connection through the proxy and
 * refuses new ones ({@link refuseNew} only refuses new ones), {@link restore} lets them through
 * again. Everyone else using the server
 * (other tests, a developer's stack) notices nothing, so nothing shared is ever stopped.
 *
 * While cut, the port stays bound and accepts, then at once closes, each new connection: the
 * client sees its connection fail during the handshake, as with a broker that is going down,
 * and no other process can take the port before {@link restore}.
 */
export class TcpProxy {
  /** Port the proxy listens on (ephemeral). */
  readonly port: number;
  readonly host: string;

  /** Each forwarded connection: the client's socket and the one to the target. */
  private readonly connections = new Set<{ client: Socket; upstream: Socket }>();
  private cutOff = false;

  private constructor(
    private readonly server: Server,
    address: { host: string; port: number },
  ) {
    this.host = address.host;
    this.port = address.port;
  }

  /** Listens on an ephemeral port and forwards every connection to the target. */
  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const host = options.listenHost ?? '127.0.0.1';
    const server = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => {
        server.off('error', reject);
        const address = server.address();
        if (address === null || typeof address === 'string') {
          reject(new Error('the proxy has no TCP address'));
          return;
        }
        resolve(address.port);
      });
    });
    const proxy = new TcpProxy(server, { host, port });
    server.on('connection', (client: Socket) => {
      proxy.accept(client, options);
    });
    return proxy;
  }

  /**
   * `url` (e.g. `amqp://guest:guest@localhost:5672/vhost`) pointed at the proxy instead:
   * same scheme, credentials, path and query; the proxy's host and port.
   */
  proxiedUrl(url: string): string {
    const proxied = new URL(url);
    proxied.hostname = this.host;
    proxied.port = String(this.port);
    return proxied.toString();
  }

  /** Whether connections are being refused. */
  get isCut(): boolean {
    return this.cutOff;
  }

  /** Connections forwarded right now. */
  get openConnections(): number {
    return this.connections.size;
  }

  /** Drops every open connection (both sides, at once) and refuses new ones until {@link restore}. */
  cut(): void {
    this.cutOff = true;
    for (const { client, upstream } of this.connections) {
      client.destroy();
      upstream.destroy();
    }
    this.connections.clear();
  }

  /**
   * Refuses new connections until {@link restore}, leaving the open ones as they are: when the
   * server itself then closes a client's connection (e.g. `rabbitmqctl close_connection`), the
   * client cannot reconnect until the test says so, however fast it retries.
   */
  refuseNew(): void {
    this.cutOff = true;
  }

  /** Lets new connections through again. */
  restore(): void {
    this.cutOff = false;
  }

  /** Drops every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private accept(client: Socket, options: TcpProxyOptions): void {
    if (this.cutOff) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: options.targetHost, port: options.targetPort });
    // Small protocol frames (AMQP, pg) must not wait for Nagle's algorithm in the proxy either.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const connection = { client, upstream };
    this.connections.add(connection);
    // Whichever side ends or fails first takes the other with it, as a real network failure would.
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.connections.delete(connection);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
