import { prepareDocument } from '@agent-fleet/rag';
import { describe, expect, it } from 'vitest';
import { assembleDocument, contextAround, sectionAt } from './document.ts';

describe('a document rebuilt from its chunks', () => {
  it('has its exact text, its sections, and the registry content hash', async () => {
    const body = Array.from({ length: 40 }, (_, i) => `Sentence ${i} about records and retention.`).join(' ');
    const text = `# Policy\n\n## Scope\n\n${body}\n\n## Retention\n\nRecords are kept five years.\n`;
    const { doc, chunks } = await prepareDocument(
      { tenant: 'acme', docId: 'p', title: 'Policy', text, acl: ['a'] },
      { maxTokens: 64, overlapTokens: 16 },
    );
    expect(chunks.length).toBeGreaterThan(3);
    const assembled = assembleDocument([...chunks].reverse());
    expect(assembled.text).toBe(text);
    expect(assembled.contentHash).toBe(doc.contentHash);
    const at = assembled.quotes.locate('Records are kept five years.')!;
    expect(sectionAt(assembled, at.start)).toBe('Policy > Retention');
    const end = contextAround(assembled, at.start, at.end);
    expect(end.before).toMatch(/^…\S.*Sentence 39 about records and retention\. ## Retention $/);
    expect(end.after).toBe('');
    const mid = assembled.quotes.locate('Sentence 20 about records')!;
    const around = contextAround(assembled, mid.start, mid.end);
    expect(around.before).toMatch(/^…\S.* $/);
    expect(around.after).toMatch(/^ and retention\. Sentence 21 .*\S…$/);
    expect(`${around.before}Sentence 20 about records${around.after}`.replaceAll('…', '')).toBe(
      assembled.text.slice(mid.start - around.before.length + 1, mid.end + around.after.length - 1),
    );
  });
});
