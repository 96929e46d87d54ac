import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDocument } from './ingest.ts';
import type { UserAccess } from './ports.ts';
import type { BackendFactory, ContractBackend } from './retriever.contract.ts';

let tenantSeq = 0;
const freshTenant = () => `r${Date.now().toString(36)}-${tenantSeq++}`;

/**
 * How every backend ranks lexically (bm25.ts, fusion.ts): a rare word of the question outweighs a
 * frequent one, the words of a heading weigh more than the same words in the text, and the top k
 * is not filled with neighbours of one hit when another document answers too. Run against each
 * backend's lexical configuration (dense vectors from a stand-in embedder would blur what is
 * pinned here).
 */
export function rankingContract(name: string, factory: BackendFactory): void {
  describe(`Ranking contract: ${name}`, () => {
    let backend: ContractBackend;
    beforeAll(async () => {
      backend = await factory({ onViolation: () => {} });
    });
    afterAll(async () => {
      await backend?.retriever.close();
      await backend?.cleanup?.();
    });

    const ingest = async (tenant: string, docId: string, text: string) => {
      const { doc, chunks } = await prepareDocument(
        { tenant, docId, title: docId, text, acl: [], public: true },
        { maxTokens: 64, overlapTokens: 8 },
      );
      await backend.retriever.replaceDocument(doc, chunks);
      return chunks.length;
    };
    const search = (access: UserAccess, q: string, k = 5) => backend.retriever.search(access, q, { k });

    it('puts the passage with the rare word of the question before passages full of a frequent one', async () => {
      const t = freshTenant();
      for (const i of [1, 2, 3, 4, 5])
        await ingest(t, `p${i}`, `Policy ${i}: the policy owner reviews this policy and the policy index.`);
      await ingest(t, 'z', 'Access to the zeppelin hangar is logged at the gate.');
      const hits = await search({ tenant: t, groups: [] }, 'policy zeppelin');
      expect(hits[0]?.chunk.docId).toBe('z');
      expect(hits.map((h) => h.chunk.docId)).toContain('p1');
    });

    it('weighs the words of a heading above the same words in the text', async () => {
      const t = freshTenant();
      await ingest(
        t,
        'h',
        '# Handbook\n\n## Gift register\n\nEntries are made within five days of receipt by the employee.',
      );
      await ingest(
        t,
        'b',
        'The gift register lists entries; a gift goes on the register when accepted, and every gift ' +
          'register entry is checked by the team.',
      );
      const hits = await search({ tenant: t, groups: [] }, 'gift register');
      expect(hits.map((h) => h.chunk.docId).slice(0, 2)).toEqual(['h', 'b']);
    });

    it('lets another document that answers into the top k instead of more neighbours of one hit', async () => {
      const t = freshTenant();
      const paragraph = (i: number) =>
        `Rule ${i}. Escalation threshold: escalate the alert when the escalation threshold is met, ` +
        `and record the threshold and the escalation in the case file.`;
      const chunks = await ingest(
        t,
        'playbook',
        Array.from({ length: 10 }, (_, i) => paragraph(i)).join('\n\n'),
      );
      expect(chunks).toBeGreaterThanOrEqual(5);
      await ingest(
        t,
        'board',
        'The board sets the escalation threshold each year, with the budget, the staffing plan, the audit ' +
          'calendar and the training programme of the department.',
      );
      const hits = await search({ tenant: t, groups: [] }, 'escalation threshold', 5);
      const docs = hits.map((h) => h.chunk.docId);
      expect(docs[0]).toBe('playbook');
      expect(docs).toContain('board');
      expect(docs.filter((d) => d === 'playbook').length).toBeGreaterThanOrEqual(2);
      // Asked for more than the other documents can fill, the rest comes from the first again.
      const many = await search({ tenant: t, groups: [] }, 'escalation threshold', chunks + 1);
      expect(many).toHaveLength(chunks + 1);
      expect(many.filter((h) => h.chunk.docId === 'board')).toHaveLength(1);
    });
  });
}
