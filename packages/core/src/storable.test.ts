import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { findNul, hasNul, NUL_REFUSED, storable } from './storable.ts';

describe('storable text', () => {
  it('finds a NUL in strings, keys and nested values, naming the path', () => {
    expect(findNul({ text: 'fine', list: ['a', 'b'] })).toBeNull();
    expect(findNul('a\u0000')).toEqual([]);
    expect(findNul({ text: 'a\u0000b' })).toEqual(['text']);
    expect(findNul({ messages: [{ content: 'x' }, { content: ['y', '\u0000'] }] })).toEqual([
      'messages',
      1,
      'content',
      1,
    ]);
    expect(findNul({ ok: 1, nested: { 'k\u0000': 2 } })).toEqual(['nested', 'k\u0000']);
    expect(findNul([1, true, null, 2.5])).toBeNull();
  });

  it('walks a value nested far deeper than the call stack in linear time', () => {
    let deep: unknown = 'bottom\u0000';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const started = performance.now();
    expect(findNul(deep)).toHaveLength(200_000);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses a NUL through the zod schema and its JSON Schema pattern', () => {
    const schema = storable(z.string().min(1));
    expect(schema.safeParse('a\u0000b').error?.issues[0]?.message).toBe(NUL_REFUSED);
    expect(schema.parse('ab')).toBe('ab');
    const pattern = (z.toJSONSchema(schema) as { pattern?: string }).pattern;
    expect(new RegExp(pattern!).test('a\u0000b')).toBe(false);
    expect(new RegExp(pattern!).test('a\nb é')).toBe(true);
    expect(hasNul('x')).toBe(false);
  });
});
