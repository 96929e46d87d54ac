import { describe, expect, it } from 'vitest';
import { countTokens, decodeTokens, encodeTokens } from './tokens.ts';

describe('tokenizer', () => {
  it('round-trips text and counts real BPE tokens', () => {
    const text = 'Customer due diligence records are kept for seven years — 顧客記録.';
    expect(decodeTokens(encodeTokens(text))).toBe(text);
    expect(countTokens(text)).toBe(encodeTokens(text).length);
    expect(countTokens('hello world')).toBe(2);
  });

  it('does not let a sequence cut inside a character leak into the next decode', () => {
    const tokens = encodeTokens('語');
    expect(tokens.length).toBeGreaterThan(1);
    expect(decodeTokens(tokens.slice(0, 1))).toBe('\ufffd');
    expect(decodeTokens(tokens)).toBe('語');
    expect(decodeTokens(encodeTokens('plain'))).toBe('plain');
  });
});
