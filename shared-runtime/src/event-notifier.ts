/**
 * Told right after a transaction that recorded events has committed, so they are published at
 * once instead of at the relay's next poll. The outbox relay implements it. `notify` returns at
 * once and never throws: the events are already safe in the outbox, whatever happens next.
 */
export interface EventNotifier {
  notify(): void;
}
