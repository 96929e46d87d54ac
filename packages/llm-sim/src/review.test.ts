import { describe, expect, it } from 'vitest';
import { type ChatCompletion, json, post, root, sim } from './http/test-support.ts';

const finding = {
  type: 'object',
  properties: {
    verdict: { enum: ['compliant', 'non_compliant', 'not_applicable', 'unclear'] },
    evidence: { type: 'array', items: { type: 'object', properties: { quote: { type: 'string' } } } },
    rationale: { type: 'string' },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
  },
};
const schemaFor = (ids: string[]) => ({
  type: 'object',
  properties: {
    findings: {
      type: 'object',
      properties: Object.fromEntries(ids.map((id) => [id, finding])),
      required: ids,
    },
  },
});
const DOCUMENT = [
  'Document: Records (records)',
  '[S1] # Records\nCustomer due diligence records are kept for five years after the relationship ends.',
  '[S2] Staff do not receive gifts above fifty euros without approval.',
  'Checklist:\n[item:retention] Due diligence records must be kept for five years.\n' +
    '[item:gifts] Gifts above fifty euros need approval.\n[item:cars] Company cars are serviced yearly.',
].join('\n\n');

const ask = (url: string, ids = ['retention', 'gifts', 'cars']) =>
  json<ChatCompletion>(
    post(`${url}/chat/completions`, {
      messages: [{ role: 'user', content: DOCUMENT }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'document_review', schema: schemaFor(ids) },
      },
    }),
  );

describe('document review answers', () => {
  it('quotes real sentences of the document passages as evidence, with a verdict per item', async () => {
    const s = await sim();
    const reply = JSON.parse((await ask(s.url)).choices[0]!.message.content!) as {
      findings: Record<string, { verdict: string; evidence: { quote: string }[]; confidence: number }>;
    };
    expect(Object.keys(reply.findings)).toEqual(['retention', 'gifts', 'cars']);
    expect(reply.findings.retention).toMatchObject({
      verdict: 'compliant',
      evidence: [
        {
          quote:
            '# Records Customer due diligence records are kept for five years after the relationship ends.',
        },
      ],
    });
    expect(reply.findings.gifts!.verdict).toBe('non_compliant');
    expect(reply.findings.cars).toMatchObject({ verdict: 'not_applicable', evidence: [] });
    const requests = (await (
      await fetch(`${root(s)}/sim/requests?contains=${encodeURIComponent('[item:gifts]')}`)
    ).json()) as {
      requests: { responseFormat: string }[];
    };
    expect(requests.requests.map((r) => r.responseFormat)).toEqual(['document_review']);
  });

  it('fabricates quotes and breaks JSON at the rates its knobs say', async () => {
    const s = await sim({ fabricatedQuoteRate: 1 });
    const reply = JSON.parse((await ask(s.url, ['retention'])).choices[0]!.message.content!) as {
      findings: { retention: { evidence: { quote: string }[] } };
    };
    expect(DOCUMENT.replace(/\s+/g, ' ')).not.toContain(reply.findings.retention.evidence[0]!.quote);
    const broken = await sim({ brokenJsonRate: 1 });
    const text = (await ask(broken.url)).choices[0]!.message.content!;
    expect(() => JSON.parse(text)).toThrow();
  });
});
