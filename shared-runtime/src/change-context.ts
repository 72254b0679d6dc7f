/** What a service knows about who asked for a change, carried into the events it records. */
export interface ChangeContext {
  /** The HTTP request that asked for it (its `X-Request-Id`), for tracing; null when none did. */
  requestId: string | null;
}
