import type { ExecutionContext } from 'ava';
import { request } from 'node:http';

import {
  PROBLEM_CONTENT_TYPE,
  problemDetailsSchema,
  validateMessage,
  type ProblemDetails,
} from '@shop/shared-contracts';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** The body exactly as received, to look for what must never be in it. */
  text: string;
  /** Parsed JSON when the response is JSON, else the text; undefined for an empty body. */
  body: T;
  /** From sending the request to having the whole response, in ms (to log, never to assert). */
  elapsedMs: number;
}

export interface CallOptions {
  /** Sent as `application/json`. */
  json?: unknown;
  /** Sent as `application/x-www-form-urlencoded`. */
  form?: Record<string, string> | string;
  /** Sent as is (for malformed or odd bodies), with `contentType` when given. */
  raw?: string | Uint8Array;
  contentType?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
}

/**
 * One HTTP call to a service under test, over `node:http` rather than fetch so that any request
 * can be sent: a body on GET or DELETE, a path with bad percent-encoding sent byte for byte, odd
 * headers. Characters a request line cannot carry (spaces, non-ASCII) are percent-encoded as
 * fetch would; everything else goes out as given. Redirects are not followed.
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
  } else if (options.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = typeof options.form === 'string' ? options.form : new URLSearchParams(options.form).toString();
  } else if (options.raw !== undefined) {
    body = options.raw;
  }
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  Object.assign(headers, options.headers);

  const { hostname, port } = new URL(baseUrl);
  const requestPath = path.replace(/[^\x21-\x7e]/gu, (char) => encodeURIComponent(char));
  const started = performance.now();
  const received = await new Promise<{ status: number; headers: Headers; text: string }>((resolve, reject) => {
    const req = request({ hostname, port, path: requestPath, method, headers }, (res) => {
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
  return { ...received, body: parsed, elapsedMs: performance.now() - started };
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
  response: ApiResponse,
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
