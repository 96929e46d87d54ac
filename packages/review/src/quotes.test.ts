import { describe, expect, it } from 'vitest';
import { normalizeWhitespace, QuoteIndex } from './quotes.ts';

describe('quote verification', () => {
  const text = '# Retention\n\nRecords are kept\n  for five years.\tAfter that they are destroyed.';
  const index = new QuoteIndex(text);

  it('finds a quote verbatim once whitespace is normalised, and maps it back to the text', () => {
    const span = index.locate('Records are kept for five   years.');
    expect(span).not.toBeNull();
    expect(normalizeWhitespace(text.slice(span!.start, span!.end))).toBe('Records are kept for five years.');
    expect(index.contains('years. After that they are destroyed.')).toBe(true);
  });

  it('refuses quotes that are changed, invented or too short to prove anything', () => {
    expect(index.contains('Records are kept for seven years.')).toBe(false);
    expect(index.contains('records are kept for five years.')).toBe(false); // case matters
    expect(index.contains('The board confirms every case.')).toBe(false);
    expect(index.contains('Records')).toBe(false);
    expect(index.contains('   ')).toBe(false);
  });
});
