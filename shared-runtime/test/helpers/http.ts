import type { ExecutionContext } from 'ava';
import type { Express } from 'express';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

import {
  PROBLEM_CONTENT_TYPE,
  problemDetailsSchema,
  validateMessage,
  type ProblemDetails,
} from '@shop/shared-contracts';

import { closeServer } from '../../src/http';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** The body exactly as received, to look for what must never be in it. */
  text: string;
  /** Parsed JSON when the response is JSON, else the text; undefined for an empty body. */
  body: T;
}

export interface CallOptions {
  /** Sent as `application/json`. */
  json?: unknown;
  /** Sent as is (for malformed or odd bodies), with `contentType` when given. */
  raw?: string | Uint8Array;
  contentType?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
}

/** An app listening on a free port of 127.0.0.1 until the test ends. */
export async function serve(t: ExecutionContext, app: Express): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => {
      resolve(listening);
    });
  });
  t.teardown(() => closeServer(server));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * One HTTP call, over `node:http` rather than fetch so that any request can be sent: a raw
 * path with bad percent-encoding, a body in any media type, odd headers.
 */
export async function call<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  let body: string | Uint8Array | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.raw !== undefined) {
    body = options.raw;
  }
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  Object.assign(headers, options.headers);

  const received = await new Promise<{ status: number; headers: Headers; text: string }>((resolve, reject) => {
    // The path goes out byte for byte: a URL object would percent-encode what a test sends raw.
    const { hostname, port } = new URL(baseUrl);
    const req = request({ hostname, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const all = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) all.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        resolve({ status: res.statusCode ?? 0, headers: all, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
  const isJson = /json/.test(received.headers.get('content-type') ?? '');
  const parsed = (received.text === '' ? undefined : isJson ? JSON.parse(received.text) : received.text) as T;
  return { ...received, body: parsed };
}

/**
 * What no response may show: stack frames, source paths, SQL, or the names of the libraries
 * and drivers behind the API.
 */
export const INTERNALS =
  /\bat [\w.<>]+ \(|node_modules|\.[cm]?[jt]s:\d+|\bsequelize|\bselect\b[^"]*\bfrom\b|body-parser|\bexpress\b|amqplib|postgres|rabbitmq|SyntaxError|TypeError|\bstack\b/i;

/**
 * Asserts an RFC 9457 problem with the given status, carrying the request id and nothing
 * internal, and returns it.
 */
export function expectProblem(t: ExecutionContext, response: ApiResponse, status: number): ProblemDetails {
  t.is(response.status, status, response.text);
  t.is(response.headers.get('content-type'), `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
  const problem = response.body as ProblemDetails;
  t.true(validateMessage(problemDetailsSchema, problem).ok, response.text);
  t.is(problem.status, status);
  t.is(problem.request_id, response.headers.get('x-request-id') ?? '');
  t.notRegex(response.text, INTERNALS);
  return problem;
}

/** A pino destination that keeps every JSON line written to it, for tests that read the logs. */
export function lineCollector(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
}
