export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text; undefined for an empty body. */
  body: T;
  /** From sending the request to having the whole response, in ms. */
  elapsedMs: number;
}

export interface CallOptions {
  /** Sent as `application/json`. */
  json?: unknown;
  /** Sent as is, with the given headers (for malformed or odd bodies). */
  rawBody?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
}

/** One HTTP call to the service under test. */
export async function call<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  Object.assign(headers, options.headers);

  const started = performance.now();
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : options.rawBody,
  });
  const text = await response.text();
  const isJson = /json/.test(response.headers.get('content-type') ?? '');
  const body = (text === '' ? undefined : isJson ? JSON.parse(text) : text) as T;
  return { status: response.status, headers: response.headers, body, elapsedMs: performance.now() - started };
}
