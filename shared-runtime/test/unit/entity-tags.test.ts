import test from 'ava';
import fc from 'fast-check';

import { AppError } from '../../src';
import {
  conditionHeader,
  matchesStrongly,
  matchesWeakly,
  parseEntityTagCondition,
  strongEntityTag,
} from '../../src/http';

test('parseEntityTagCondition → * is any current representation', (t) => {
  t.deepEqual(parseEntityTagCondition('*'), { any: true });
  t.deepEqual(parseEntityTagCondition(' * '), { any: true });
});

test('parseEntityTagCondition → a list of strong and weak tags, with spaces and empty elements', (t) => {
  t.deepEqual(parseEntityTagCondition('"1", W/"2" ,,"a,b"'), {
    any: false,
    tags: [
      { opaque: '1', weak: false },
      { opaque: '2', weak: true },
      { opaque: 'a,b', weak: false },
    ],
  });
  t.deepEqual(parseEntityTagCondition('""'), { any: false, tags: [{ opaque: '', weak: false }] });
});

for (const malformed of [
  '',
  ' ',
  '1',
  'W/1',
  'w/"1"',
  '"1',
  '1"',
  '"1" "2"',
  '*, "1"',
  '"1", *',
  '**',
  '"a"b"',
  ',',
  '"\u0001"',
]) {
  test(`parseEntityTagCondition → ${JSON.stringify(malformed)} is malformed`, (t) => {
    t.is(parseEntityTagCondition(malformed), undefined);
  });
}

test('parseEntityTagCondition → never throws, and reads back every list it writes', (t) => {
  const tag = fc.record({
    opaque: fc.stringMatching(/^[\x21\x23-\x7e]{0,6}$/),
    weak: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(tag, { minLength: 1, maxLength: 5 }), (tags) => {
      const header = tags.map((one) => `${one.weak ? 'W/' : ''}"${one.opaque}"`).join(' , ');
      t.deepEqual(parseEntityTagCondition(header), { any: false, tags });
    }),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (value) => {
      parseEntityTagCondition(value);
    }),
  );
});

test('matchesStrongly (If-Match) → a weak tag never matches; * matches', (t) => {
  const tags = (header: string) => parseEntityTagCondition(header)!;
  t.true(matchesStrongly(tags('"3"'), '3'));
  t.true(matchesStrongly(tags('"1", "3"'), '3'));
  t.false(matchesStrongly(tags('W/"3"'), '3'));
  t.false(matchesStrongly(tags('"03"'), '3'));
  t.true(matchesStrongly(tags('*'), '3'));
});

test('matchesWeakly (If-None-Match) → W/"3" matches "3"', (t) => {
  const tags = (header: string) => parseEntityTagCondition(header)!;
  t.true(matchesWeakly(tags('W/"3"'), '3'));
  t.true(matchesWeakly(tags('"3"'), '3'));
  t.false(matchesWeakly(tags('"4"'), '3'));
  t.true(matchesWeakly(tags('*'), '3'));
});

test('conditionHeader → absent is undefined; malformed is a 400 naming the header', (t) => {
  t.is(conditionHeader({}, 'if-match'), undefined);
  t.deepEqual(conditionHeader({ 'if-match': '"2"' }, 'if-match'), { any: false, tags: [{ opaque: '2', weak: false }] });
  const error = t.throws(() => conditionHeader({ 'if-none-match': 'yes' }, 'if-none-match'), { instanceOf: AppError });
  t.is(error.status, 400);
  t.regex(error.detail, /If-None-Match/);
});

test('strongEntityTag → the quoted form', (t) => {
  t.is(strongEntityTag('7'), '"7"');
});
