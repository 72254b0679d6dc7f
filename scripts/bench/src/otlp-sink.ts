import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where the services' spans go in a `--tracing` run, and how much arrived. */
export interface OtlpSink {
  /** The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  endpoint: string;
  requests: number;
  bytes: number;
  close(): Promise<void>;
}

/**
 * An OTLP/HTTP receiver that reads every export and answers 200 without decoding it: the
 * cheapest collector there is, so a `--tracing` run measures what the services pay to record
 * and send spans, not what a backend costs.
 */
export async function startOtlpSink(): Promise<OtlpSink> {
  const stats = { requests: 0, bytes: 0 };
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
    });
    req.on('end', () => {
      stats.requests += 1;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return stats.requests;
    },
    get bytes() {
      return stats.bytes;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
