import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MissingAccessError, visibleTo } from './access.ts';
import type { ViolationHandler } from './acl-retriever.ts';
import { prepareDocument } from './ingest.ts';
import type { ChunkRecord, Retriever, UserAccess } from './ports.ts';

export interface ContractBackend {
  retriever: Retriever;
  cleanup?: () => Promise<void>;
}

/** Makes a fresh backend; it must pass `onViolation` to the retriever (chunks the guard had to drop). */
export type BackendFactory = (opts: { onViolation: ViolationHandler }) => Promise<ContractBackend>;

let tenantSeq = 0;
/** A tenant of its own per test, so tests share a backend without seeing each other's documents. */
const freshTenant = () => `t${Date.now().toString(36)}-${tenantSeq++}`;

const VOCABULARY = (
  'account audit beneficial breach client compliance control customer deadline director escalate evidence ' +
  'filing freeze gift hospitality insider investigation ledger mandate notice officer payment policy ' +
  'record refund register report retention review risk sanction screening threshold trade transfer vendor'
).split(' ');

/**
 * The Retriever contract: every backend must pass it. Covers the refusal without access, tenant
 * and ACL isolation, idempotent replace and delete, and a fast-check property that no query (not
 * even one made of a forbidden chunk's exact words) returns a chunk the user may not see, neither
 * after the shared guard nor from the backend's own filter.
 */
export function retrieverContract(name: string, factory: BackendFactory): void {
  describe(`Retriever contract: ${name}`, () => {
    let backend: ContractBackend;
    const violations: ChunkRecord[] = [];
    beforeAll(async () => {
      backend = await factory({ onViolation: ({ chunk }) => violations.push(chunk) });
    });
    afterAll(async () => {
      await backend?.retriever.close();
      await backend?.cleanup?.();
      expect(violations, 'chunks the backend returned although its own filter should exclude them').toEqual(
        [],
      );
    });

    const ingest = async (tenant: string, docId: string, text: string, acl: string[], isPublic = false) => {
      const { doc, chunks } = await prepareDocument(
        { tenant, docId, title: docId, text, acl, public: isPublic },
        { maxTokens: 64, overlapTokens: 8 },
      );
      return { ...(await backend.retriever.replaceDocument(doc, chunks)), doc, chunks };
    };

    it('refuses to search without a valid access', async () => {
      const r = backend.retriever;
      for (const bad of [null, undefined, { tenant: '', groups: [] }, { tenant: 'acme', groups: 'x' }, {}]) {
        await expect(r.search(bad as unknown as UserAccess, 'policy')).rejects.toBeInstanceOf(
          MissingAccessError,
        );
      }
    });

    it('keeps tenants apart and honours ACL groups and public', async () => {
      const [a, b] = [freshTenant(), freshTenant()];
      await ingest(a, 'handbook', 'The zebra retention handbook applies to every branch.', [], true);
      await ingest(a, 'memo', 'The zebra investigation memo names the suspect account.', ['legal']);
      await ingest(b, 'handbook', 'Tenant b keeps its own zebra retention handbook.', [], true);
      const ids = async (access: UserAccess) =>
        (await backend.retriever.search(access, 'zebra retention investigation', { k: 10 }))
          .map((h) => `${h.chunk.tenant}/${h.chunk.docId}`)
          .sort();
      expect(await ids({ tenant: a, groups: [] })).toEqual([`${a}/handbook`]);
      expect(await ids({ tenant: a, groups: ['legal'] })).toEqual([`${a}/handbook`, `${a}/memo`]);
      expect(await ids({ tenant: a, groups: ['Legal', 'legal-team'] })).toEqual([`${a}/handbook`]);
      expect(await ids({ tenant: b, groups: ['legal'] })).toEqual([`${b}/handbook`]);
      expect(await ids({ tenant: freshTenant(), groups: ['legal'] })).toEqual([]);
    });

    it('ranks the passage that shares the rare words first and returns at most k', async () => {
      const t = freshTenant();
      await ingest(
        t,
        'gifts',
        'Gifts above 100 euros must be entered in the gift register within 5 days.',
        [],
        true,
      );
      await ingest(
        t,
        'travel',
        'Travel expenses are reimbursed monthly through the finance portal.',
        [],
        true,
      );
      await ingest(
        t,
        'sanctions',
        'Sanctions screening alerts are reviewed by the screening team.',
        [],
        true,
      );
      const hits = await backend.retriever.search(
        { tenant: t, groups: [] },
        'When must a gift be registered?',
      );
      expect(hits[0]?.chunk.docId).toBe('gifts');
      expect(hits[0]?.chunk.text).toContain('gift register');
      expect(
        await backend.retriever.search({ tenant: t, groups: [] }, 'screening gifts travel', { k: 2 }),
      ).toHaveLength(2);
      expect(await backend.retriever.search({ tenant: t, groups: [] }, '   ')).toEqual([]);
    });

    it('reads a document, or one of its sections, only for users who may see it', async () => {
      const t = freshTenant();
      const para = (s: string) => Array.from({ length: 6 }, (_, i) => `${s} (point ${i + 1}).`).join(' ');
      const text =
        `# Playbook\n\n## 1. Intake\n\n${para('Cases arrive from monitoring alerts and staff reports')}\n\n` +
        `## 2. Escalation\n\n${para('Escalate to the MLRO within one business day when the threshold is met')}`;
      await ingest(t, 'playbook', text, ['aml']);
      const insider = { tenant: t, groups: ['aml'] };
      const all = await backend.retriever.readDocument(insider, 'playbook');
      expect(all.map((c) => c.chunkIndex)).toEqual(all.map((_, i) => i));
      expect(all.map((c) => c.text).join(' ')).toContain('MLRO within one business day');
      const section = await backend.retriever.readDocument(insider, 'playbook', {
        section: 'Playbook > 2. Escalation',
      });
      expect(section.length).toBeGreaterThan(0);
      expect(section.every((c) => c.sectionPath.join(' > ').startsWith('Playbook > 2. Escalation'))).toBe(
        true,
      );
      expect(await backend.retriever.readDocument({ tenant: t, groups: ['retail'] }, 'playbook')).toEqual([]);
      expect(
        await backend.retriever.readDocument({ tenant: freshTenant(), groups: ['aml'] }, 'playbook'),
      ).toEqual([]);
      await expect(
        backend.retriever.readDocument(null as unknown as UserAccess, 'playbook'),
      ).rejects.toBeInstanceOf(MissingAccessError);
    });

    it('lists and describes documents by tenant and docId prefix, with permissions and no text', async () => {
      const t = freshTenant();
      await ingest(t, 'aml-b', 'Beta text about screening.', ['aml']);
      await ingest(t, 'aml-a', 'Alpha text about screening.', [], true);
      await ingest(t, 'hr-1', 'Leave policy text.', ['hr']);
      await ingest(freshTenant(), 'aml-c', 'Another tenant.', ['aml']);
      const list = await backend.retriever.listDocuments(t, { prefix: 'aml-' });
      expect(list.map((d) => [d.docId, d.acl, d.public])).toEqual([
        ['aml-a', [], true],
        ['aml-b', ['aml'], false],
      ]);
      expect(list.every((d) => d.tenant === t && d.chunkCount === 1 && !('text' in d))).toBe(true);
      expect(
        (await backend.retriever.listDocuments(t, { after: 'aml-a', limit: 1 })).map((d) => d.docId),
      ).toEqual(['aml-b']);
      expect((await backend.retriever.listDocuments(t)).map((d) => d.docId)).toEqual([
        'aml-a',
        'aml-b',
        'hr-1',
      ]);
      expect(await backend.retriever.getDocument(t, 'hr-1')).toMatchObject({ docId: 'hr-1', acl: ['hr'] });
      expect(await backend.retriever.getDocument(t, 'aml-c')).toBeNull();
    });

    it('replaces a document idempotently, leaving no stale chunk', async () => {
      const t = freshTenant();
      const access = { tenant: t, groups: ['ops'] };
      const long = Array.from({ length: 30 }, (_, i) => `Paragraph ${i} about quokka controls.`).join('\n\n');
      const first = await ingest(t, 'doc', long, ['ops']);
      expect(first.status).toBe('created');
      expect(first.chunks.length).toBeGreaterThan(1);
      expect((await ingest(t, 'doc', long, ['ops'])).status).toBe('unchanged');
      const again = await backend.retriever.search(access, 'quokka', { k: 100 });
      expect(new Set(again.map((h) => h.chunk.chunkIndex)).size).toBe(first.chunks.length);
      expect(again).toHaveLength(first.chunks.length);

      const second = await ingest(t, 'doc', 'A short replacement about wombat controls.', ['ops']);
      expect(second.status).toBe('replaced');
      // Dense backends return their nearest chunks whatever the words: check what comes back, not
      // that nothing does.
      const stale = await backend.retriever.search(access, 'quokka paragraph', { k: 100 });
      expect(stale.filter((h) => h.chunk.text.includes('quokka'))).toEqual([]);
      const now = await backend.retriever.search(access, 'wombat', { k: 100 });
      expect(now.map((h) => h.chunk.text)).toEqual(['A short replacement about wombat controls.']);

      // A change of permissions alone is a new revision: the old groups lose access at once.
      await ingest(t, 'doc', 'A short replacement about wombat controls.', ['legal']);
      expect(await backend.retriever.search(access, 'wombat')).toEqual([]);
      expect(await backend.retriever.search({ tenant: t, groups: ['legal'] }, 'wombat')).toHaveLength(1);
    });

    it('deletes a document idempotently', async () => {
      const t = freshTenant();
      await ingest(t, 'doc', 'The platypus procedure.', [], true);
      await ingest(t, 'other', 'The platypus appendix.', [], true);
      expect(await backend.retriever.deleteDocument(t, 'doc')).toEqual({ deleted: true });
      expect(await backend.retriever.deleteDocument(t, 'doc')).toEqual({ deleted: false });
      expect(await backend.retriever.deleteDocument(t, 'never-there')).toEqual({ deleted: false });
      const hits = await backend.retriever.search({ tenant: t, groups: [] }, 'platypus', { k: 10 });
      expect(hits.map((h) => h.chunk.docId)).toEqual(['other']);
      expect((await ingest(t, 'doc', 'The platypus procedure.', [], true)).status).toBe('created');
    });

    it('never returns a forbidden chunk, even for queries made of its exact words (property)', async () => {
      const groups = ['g1', 'g2', 'g3', 'g4'];
      const word = fc.constantFrom(...VOCABULARY);
      const docArb = fc.record({
        words: fc.array(word, { minLength: 3, maxLength: 40 }),
        acl: fc.subarray(groups),
        public: fc.boolean(),
        tenant: fc.constantFrom(0, 1),
      });
      const scenario = fc.record({
        docs: fc.array(docArb, { minLength: 1, maxLength: 8 }),
        user: fc.record({ tenant: fc.constantFrom(0, 1), groups: fc.subarray(groups) }),
        queries: fc.array(fc.array(word, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
      });
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          const tenants = [freshTenant(), freshTenant()];
          const all: ChunkRecord[] = [];
          for (const [i, d] of s.docs.entries()) {
            if (d.acl.length === 0 && !d.public) d.acl = ['g4'];
            const text = d.words.join(' ');
            all.push(...(await ingest(tenants[d.tenant]!, `d${i}`, text, d.acl, d.public)).chunks);
          }
          const access = { tenant: tenants[s.user.tenant]!, groups: s.user.groups };
          const forbidden = all.filter((c) => !visibleTo(access, c));
          const queries = [...s.queries.map((q) => q.join(' ')), ...forbidden.map((c) => c.text)];
          for (const q of queries) {
            for (const hit of await backend.retriever.search(access, q, { k: 20 })) {
              expect(visibleTo(access, hit.chunk), `${q} -> ${JSON.stringify(hit.chunk)}`).toBe(true);
            }
          }
          expect(violations).toEqual([]);
        }),
        { numRuns: 40 },
      );
    });
  });
}
