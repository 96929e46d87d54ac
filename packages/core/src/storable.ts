import type { z } from 'zod';

/**
 * What every part of the fleet refuses about text it cannot store. PostgreSQL's `text` cannot hold
 * U+0000 (`invalid byte sequence for encoding "UTF8": 0x00`), so a value with one must be refused
 * where it enters the fleet (gateway, SDK, intake queue) rather than accepted and then fail when
 * its turn is recorded.
 */
export const NUL_REFUSED = 'must not contain NUL (U+0000) characters, which cannot be stored';

// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what is refused
const NO_NUL = /^[^\u0000]*$/;

/**
 * `schema` refusing strings with a NUL. A `pattern` rather than a refinement, so the published
 * JSON Schema carries the rule too and outside producers' validators refuse such text as well.
 */
export function storable(schema: z.ZodString): z.ZodString {
  return schema.regex(NO_NUL, NUL_REFUSED);
}

/** Whether `s` holds a NUL. */
export function hasNul(s: string): boolean {
  return s.includes('\u0000');
}

/**
 * `s` as Postgres can store it: each NUL replaced by U+FFFD (the replacement character), so the rest
 * of a value that got past the door is kept, and marked where it was changed.
 */
export function storableText(s: string): string {
  return hasNul(s) ? s.replaceAll('\u0000', '\uFFFD') : s;
}

/** A value met while walking a JSON value, linked to its parent so paths cost nothing until one is needed. */
interface Visit {
  value: unknown;
  key: string | number | undefined;
  parent: Visit | undefined;
}

function pathOf(visit: Visit, last?: string): (string | number)[] {
  const reversed: (string | number)[] = last === undefined ? [] : [last];
  for (let v: Visit | undefined = visit; v?.key !== undefined; v = v.parent) reversed.push(v.key);
  return reversed.reverse();
}

/**
 * The path of a string, or object key, holding a NUL in a parsed JSON value (arrays by index), or
 * null when there is none. Iterative and linear in the size of the value, so a deeply nested body
 * costs no more than a flat one and cannot exhaust the stack.
 */
export function findNul(value: unknown): (string | number)[] | null {
  const stack: Visit[] = [{ value, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const v = visit.value;
    if (typeof v === 'string') {
      if (hasNul(v)) return pathOf(visit);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], key: i, parent: visit });
    } else if (v !== null && typeof v === 'object') {
      for (const [key, child] of Object.entries(v)) {
        if (hasNul(key)) return pathOf(visit, key);
        stack.push({ value: child, key, parent: visit });
      }
    }
  }
  return null;
}
