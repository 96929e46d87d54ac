import { countTokens } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { encodeText, tokenPieces } from './tokens.ts';

describe('tokenPieces', () => {
  const texts = [
    'Echo [n=4]: What is the capital of France?',
    'héllo 日本語 🎉 ok\n\n  indented  code\tx',
    `It's a test, isn't it? 12345 numbers... {"a": [1,2]}`,
    '   leading and trailing   ',
    'line1\r\nline2\n',
    'a <|endoftext|> b',
  ];
  for (const text of texts) {
    it(`gives one piece per token that join back exactly: ${JSON.stringify(text)}`, () => {
      const n = encodeText(text).length;
      const pieces = tokenPieces(text, n);
      expect(pieces).toHaveLength(n);
      expect(pieces.join('')).toBe(text);
    });
  }

  it('aligns pieces with real token boundaries on plain text', () => {
    const text = 'The quick brown fox jumps over the lazy dog.';
    expect(tokenPieces(text, countTokens(text))).toEqual([
      'The',
      ' quick',
      ' brown',
      ' fox',
      ' jumps',
      ' over',
      ' the',
      ' lazy',
      ' dog',
      '.',
    ]);
  });

  it('never throws on special-token strings', () => {
    expect(encodeText('<|endoftext|>').length).toBeGreaterThan(1);
  });
});
