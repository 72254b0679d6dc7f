import { AppError } from '../errors';

/** One entity tag (RFC 9110 §8.8.3): its opaque text, without the quotes, and whether it is weak (`W/`). */
export interface EntityTag {
  opaque: string;
  weak: boolean;
}

/**
 * What an `If-Match` or `If-None-Match` header asks for: `*` (any current representation), or
 * a list of entity tags (RFC 9110 §13.1.1, §13.1.2).
 */
export type EntityTagCondition = { any: true } | { any: false; tags: readonly EntityTag[] };

/**
 * One list member: optional `W/`, then a quoted opaque tag of etagc characters (`!`, `#`–`~`,
 * obs-text). A comma may sit inside the quotes, so the list is read tag by tag, never split on
 * commas. Empty list elements are allowed, as RFC 9110 §5.6.1 tells recipients to accept them.
 */
const LIST_MEMBER = /[ \t]*(?:(W\/)?"([\x21\x23-\x7e\x80-\xff]*)")?[ \t]*(,|$)/y;

/** The longest header value read; anything longer is refused rather than scanned. */
const MAX_CONDITION_LENGTH = 8192;

/**
 * Reads an `If-Match` / `If-None-Match` value: `*`, or a comma-separated list of entity tags.
 * Returns undefined when it is neither (no quotes, `*` inside a list, stray characters), so the
 * caller can refuse it with a 400 naming the header.
 */
export function parseEntityTagCondition(value: string): EntityTagCondition | undefined {
  if (value.length > MAX_CONDITION_LENGTH) return undefined;
  if (value.trim() === '*') return { any: true };
  const tags: EntityTag[] = [];
  LIST_MEMBER.lastIndex = 0;
  // Each match ends at a comma or at the end, so it always moves on: the loop ends.
  while (LIST_MEMBER.lastIndex < value.length) {
    const match = LIST_MEMBER.exec(value);
    if (!match) return undefined;
    const [, weak, opaque] = match;
    if (opaque !== undefined) tags.push({ opaque, weak: weak !== undefined });
  }
  return tags.length > 0 ? { any: false, tags } : undefined;
}

/** A strong entity tag's header form: `"<opaque>"`. */
export function strongEntityTag(opaque: string): string {
  return `"${opaque}"`;
}

/**
 * The condition of request header `name` (`If-Match`, `If-None-Match`), undefined when it is
 * absent; a value that is not `*` or an entity-tag list is a 400 naming the header, never
 * silently ignored: a client that meant a condition must not get an unconditional change.
 */
export function conditionHeader(
  headers: Record<string, string | string[] | undefined>,
  name: 'if-match' | 'if-none-match',
): EntityTagCondition | undefined {
  const raw = headers[name];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw.join(', ') : raw;
  const condition = parseEntityTagCondition(value);
  if (condition) return condition;
  const header = name === 'if-match' ? 'If-Match' : 'If-None-Match';
  throw new AppError(
    'malformed_request',
    `The ${header} header must be * or a comma-separated list of entity tags such as "3" or W/"3".`,
  );
}

/** `If-Match`'s strong comparison (RFC 9110 §8.8.3.2): a weak tag never matches. */
export function matchesStrongly(condition: EntityTagCondition, currentOpaque: string): boolean {
  return condition.any || condition.tags.some((tag) => !tag.weak && tag.opaque === currentOpaque);
}

/** `If-None-Match`'s weak comparison (RFC 9110 §8.8.3.2): `W/"3"` matches `"3"`. */
export function matchesWeakly(condition: EntityTagCondition, currentOpaque: string): boolean {
  return condition.any || condition.tags.some((tag) => tag.opaque === currentOpaque);
}
