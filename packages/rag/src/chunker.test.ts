import { countTokens } from '@agent-fleet/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkText } from './chunker.ts';
import { markdownHeadings } from './parse.ts';

/** Every character of `text` lies in at least one chunk, and each chunk is the slice it claims. */
function assertCovers(text: string, chunks: ReturnType<typeof chunkText>) {
  let covered = 0;
  for (const c of chunks) {
    expect(c.text).toBe(text.slice(c.start, c.end));
    expect(c.start).toBeLessThanOrEqual(covered);
    covered = Math.max(covered, c.end);
  }
  expect(covered).toBe(text.length);
}

const markdownDoc = fc
  .array(
    fc.oneof(
      fc
        .tuple(fc.integer({ min: 1, max: 4 }), fc.lorem({ maxCount: 4 }))
        .map(([l, t]) => `${'#'.repeat(l)} ${t}\n\n`),
      fc.lorem({ mode: 'sentences', maxCount: 12 }).map((p) => `${p}\n\n`),
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.constantFrom('```\n# code\n```\n', '- item one\n- item two\n', 'x'.repeat(3000), '\n\n\n'),
    ),
    { maxLength: 25 },
  )
  .map((parts) => parts.join(''));

describe('chunkText', () => {
  it('keeps every character of the source in some chunk (property)', () => {
    fc.assert(
      fc.property(
        markdownDoc,
        fc.integer({ min: 16, max: 200 }),
        fc.integer({ min: 0, max: 60 }),
        (text, max, overlap) => {
          const chunks = chunkText(text, markdownHeadings(text), { maxTokens: max, overlapTokens: overlap });
          if (text.length === 0) expect(chunks).toEqual([]);
          else assertCovers(text, chunks);
          for (const c of chunks) expect(c.tokenCount).toBeLessThanOrEqual(max + 4);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never crosses a section and carries the heading path', () => {
    const text =
      '# Policy\n\nIntro text.\n\n## 1. Scope\n\n### 1.1 Who\n\nAll staff.\n\n## 2. Rules\n\nRule text.\n';
    const chunks = chunkText(text, markdownHeadings(text), { maxTokens: 100 });
    expect(chunks.map((c) => [c.sectionPath, c.text.trim()])).toEqual([
      [['Policy'], '# Policy\n\nIntro text.'],
      [['Policy', '1. Scope', '1.1 Who'], '## 1. Scope\n\n### 1.1 Who\n\nAll staff.'],
      [['Policy', '2. Rules'], '## 2. Rules\n\nRule text.'],
    ]);
  });

  it('splits a long section at sentence ends with overlap, within the token budget', () => {
    const sentences = Array.from(
      { length: 60 },
      (_, i) => `Sentence number ${i} states a rule about reporting.`,
    );
    const text = `## Long\n\n${sentences.join(' ')}`;
    const chunks = chunkText(text, markdownHeadings(text), { maxTokens: 80, overlapTokens: 20 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) {
      expect(c.tokenCount).toBeLessThanOrEqual(82);
      expect(c.sectionPath).toEqual(['Long']);
    }
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i]!.start).toBeLessThan(chunks[i - 1]!.end);
      expect(countTokens(text.slice(chunks[i]!.start, chunks[i - 1]!.end))).toBeLessThanOrEqual(22);
      expect(chunks[i]!.text).toMatch(/^Sentence number \d+/);
    }
    assertCovers(text, chunks);
  });
});
