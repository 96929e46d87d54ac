import { describe, expect, it } from 'vitest';
import { parseReviewReply, reviewJsonSchema } from './output.ts';

const finding = { verdict: 'compliant', evidence: [{ quote: 'a quote' }], rationale: 'r', confidence: 0.5 };

describe('model replies', () => {
  it('asks for exactly one finding per item', () => {
    const schema = reviewJsonSchema(['a', 'b']) as { properties: { findings: Record<string, unknown> } };
    expect(schema.properties.findings).toMatchObject({ required: ['a', 'b'], additionalProperties: false });
  });

  it('accepts a reply of the schema and says what is wrong with any other', () => {
    const ok = parseReviewReply(JSON.stringify({ findings: { a: finding } }), ['a']);
    expect(ok.ok && ok.findings.get('a')).toEqual(finding);
    const broken = parseReviewReply('{"findings": {"a": ', ['a']);
    expect(broken).toMatchObject({ ok: false, problem: expect.stringMatching(/not valid JSON/) });
    const missing = parseReviewReply(JSON.stringify({ findings: {} }), ['a']);
    expect(missing).toMatchObject({ ok: false, problem: expect.stringMatching(/findings\.a/) });
    const bad = parseReviewReply(JSON.stringify({ findings: { a: { ...finding, verdict: 'fine' } } }), ['a']);
    expect(bad.ok).toBe(false);
  });
});
