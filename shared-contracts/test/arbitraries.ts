import fc from 'fast-check';

/**
 * Timestamps near the one form the fast paths take (`toISOString()`'s): real instants in that
 * form, and the forms and impossible dates a shortcut would most likely get wrong.
 */
export const nearInstant = fc.oneof(
  fc.date({ min: new Date(0), max: new Date('2100-01-01'), noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom(
    '2026-02-30T00:00:00.000Z',
    '2026-11-24T10:00:00Z',
    '2026-11-24T10:00:00.000+01:00',
    '2026-11-24',
    'not a date',
    '2026-13-01T00:00:00.000Z',
    '',
  ),
);
