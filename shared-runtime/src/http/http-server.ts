import type { Server } from 'node:http';

import type { Express } from 'express';

import type { Logger } from '../logger';

/** Time between sweeps of keep-alive connections that went idle during shutdown, in ms. */
const IDLE_SWEEP_INTERVAL_MS = 100;

/**
 * Listens on `port` (0: any free port) and logs `<service> listening` with the bound port once
 * it does. A server error (the port taken) is fatal: logged, exit 1.
 */
export function listen(app: Express, options: { port: number; service: string; logger: Logger }): Server {
  const { logger } = options;
  const server = app.listen(options.port, () => {
    const address = server.address();
    // The bound port, which differs from the configured one when that is 0.
    logger.info(
      { port: typeof address === 'object' && address ? address.port : options.port },
      `${options.service} listening`,
    );
  });
  server.on('error', (error) => {
    logger.fatal({ err: error }, 'HTTP server error');
    process.exit(1);
  });
  return server;
}

/** Stops accepting connections and resolves once in-flight requests have been answered. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    // server.close() only drops the connections idle at that moment; one whose last response
    // goes out later would otherwise stay open for the whole keep-alive timeout (5 s).
    const sweep = setInterval(() => {
      server.closeIdleConnections();
    }, IDLE_SWEEP_INTERVAL_MS);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}
