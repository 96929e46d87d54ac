import { describe, expect, it } from 'vitest';
import { extractiveReply } from './content.ts';
import { extractiveAnswer, findPassages, NO_MATCH_REPLY, NO_SOURCES_REPLY } from './extractive.ts';

describe('findPassages', () => {
  it('accepts numeric, letter+digit and colon markers; passages run to the next marker or a blank line', () => {
    const { passages, rest } = findPassages(
      [
        'Context:',
        '[1] First passage',
        'continues here.',
        '[S2] Second.',
        '[aml-policy.md:3.1] Third, with a colon marker.',
        '',
        'Question: what?',
        '[not a marker because spaces and no colon] text',
      ].join('\n'),
    );
    expect(passages).toEqual([
      { marker: '[1]', text: 'First passage continues here.' },
      { marker: '[S2]', text: 'Second.' },
      { marker: '[aml-policy.md:3.1]', text: 'Third, with a colon marker.' },
    ]);
    expect(rest).toBe('Context:\nQuestion: what?\n[not a marker because spaces and no colon] text');
  });
});

describe('extractiveAnswer', () => {
  const passages = [
    { marker: '[1]', text: 'Wire transfers above 10,000 EUR need a second approval. Approvals are logged.' },
    { marker: '[2]', text: 'Office plants are watered on Mondays.' },
    { marker: '[3]', text: 'A second approval for wire transfers must come from another team.' },
  ];

  it('keeps the best passages with their markers, best first (ties in prompt order)', () => {
    expect(extractiveAnswer('Which team gives the second approval for wire transfers?', passages)).toBe(
      'A second approval for wire transfers must come from another team [3]. ' +
        'Wire transfers above 10,000 EUR need a second approval. Approvals are logged [1].',
    );
  });

  it('says so when nothing matches or nothing was given', () => {
    expect(extractiveAnswer('lunch menu?', passages)).toBe(NO_MATCH_REPLY);
    expect(extractiveAnswer('anything', [])).toBe(NO_SOURCES_REPLY);
  });

  it('reads passages from the system prompt and tool results after the question', () => {
    const answer = extractiveReply([
      { role: 'system', content: '[doc:1] Sanctions lists are screened daily.' },
      { role: 'user', content: 'How often are sanctions lists screened?' },
      { role: 'tool', content: '[doc:2] Screening of sanctions lists also runs on every new customer.' },
    ]);
    expect(answer).toContain('[doc:1]');
    expect(answer).toContain('[doc:2]');
  });
});
