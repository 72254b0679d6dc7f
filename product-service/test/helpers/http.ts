import type { ExecutionContext } from 'ava';
import { request } from 'node:http';

import {
  PROBLEM_CONTENT_TYPE,
  problemDetailsSchema,
  validateMessage,
  type ProblemDetails,
} from '@shop/shared-contracts';

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text; undefined for an empty body. */
  body: T;
  /** The body exactly as received, to look for what must never be in it. */
  text: string;
  /** From sending the request to having the whole response, in ms. */
  elapsedMs: number;
}

export interface CallOptions {
  /** Sent as `application/json`. */
  json?: unknown;
  /** Sent as is, with the given headers (for malformed or odd bodies). */
  rawBody?: string | Uint8Array;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
}

function requestHeaders(options: CallOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  Object.assign(headers, options.headers);
  return headers;
}

function parse(text: string, contentType: string | null): unknown {
  const isJson = /json/.test(contentType ?? '');
  return text === '' ? undefined : isJson ? (JSON.parse(text) as unknown) : text;
}

/** One HTTP call to the service under test. */
export async function call<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiResponse<T>> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: requestHeaders(options),
    body: options.json !== undefined ? JSON.stringify(options.json) : options.rawBody,
  });
  const text = await response.text();
  const body = parse(text, response.headers.get('content-type')) as T;
  return { status: response.status, headers: response.headers, body, text, elapsedMs: performance.now() - started };
}

/**
 * Like {@link call}, over `node:http`, so that any request can be sent: a body on GET or DELETE,
 * a path with bad percent-encoding sent byte for byte. Redirects are not followed.
 */
export async function rawCall<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers = requestHeaders(options);
  const payload = options.json !== undefined ? JSON.stringify(options.json) : options.rawBody;
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  const { hostname, port } = new URL(baseUrl);
  const started = performance.now();
  const { status, received, text } = await new Promise<{ status: number; received: Headers; text: string }>(
    (resolve, reject) => {
      const req = request({ hostname, port, path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const all = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) all.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          resolve({ status: res.statusCode ?? 0, received: all, text: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('error', reject);
      req.end(payload);
    },
  );
  const body = parse(text, received.get('content-type')) as T;
  return { status, headers: received, body, text, elapsedMs: performance.now() - started };
}

/**
 * What no response may show: stack frames, source paths, SQL, or the names of the libraries
 * and drivers behind the API.
 */
export const INTERNALS =
  /\bat [\w.<>]+ \(|node_modules|\.[cm]?[jt]s:\d+|\bsequelize|\bselect\b[^"]*\bfrom\b|\binsert into\b|\bdelete from\b|\bupdate\s+"?\w+"?\s+set\b|body-parser|\bexpress\b|jsonwebtoken|\bbcrypt\b|amqplib|\bpg-|postgres|rabbitmq|SyntaxError|TypeError|\bstack\b/i;

/**
 * Asserts an RFC 9457 problem with the given status, carrying the request id and nothing
 * internal; `paths` are the fields `errors` must name, exactly (in any order).
 */
export function expectProblem(
  t: ExecutionContext,
  response: ApiResponse<unknown>,
  status: number,
  paths?: string[],
): ProblemDetails {
  t.is(response.status, status, response.text);
  t.is(response.headers.get('content-type'), `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
  const problem = response.body as ProblemDetails;
  t.true(validateMessage(problemDetailsSchema, problem).ok, response.text);
  t.is(problem.status, status);
  t.is(problem.request_id, response.headers.get('x-request-id') ?? '');
  t.notRegex(response.text, INTERNALS);
  if (paths !== undefined) {
    t.deepEqual((problem.errors ?? []).map((error) => error.path).sort(), [...paths].sort(), response.text);
  }
  return problem;
}
