import { createServer } from 'node:net';

/**
 * A TCP port free right now on 127.0.0.1: one the OS just handed out and released. For a process
 * whose port must be known before it starts (another process is configured with its URL).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}
