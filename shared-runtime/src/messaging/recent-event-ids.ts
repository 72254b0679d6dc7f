/**
 * The ids of the last `capacity` events handled, to drop redeliveries (delivery is at least
 * once). Bounded: the oldest id is forgotten when a new one would exceed the capacity, so a
 * duplicate arriving after `capacity` newer events is handled again — harmless for idempotent
 * handlers, which is all this protects.
 */
export class RecentEventIds {
  /** A Set iterates in insertion order: its first id is the oldest. */
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
  }

  /** Remembers `id`; false when it is already remembered (a duplicate). */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}
