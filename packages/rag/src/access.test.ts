import { describe, expect, it } from 'vitest';
import { accessFor, MissingAccessError, visibleTo } from './access.ts';
import { AclRetriever } from './acl-retriever.ts';
import { CITATION_INSTRUCTIONS, citationsUsed, formatPassages } from './citations.ts';
import type { ChunkRecord, DocumentRecord, SearchHit, UserAccess } from './ports.ts';

const chunk = (over: Partial<ChunkRecord>): ChunkRecord => ({
  tenant: 'acme',
  docId: 'd',
  chunkIndex: 0,
  title: 'Doc',
  sectionPath: ['1. Scope'],
  acl: [],
  public: false,
  source: 'd.md',
  contentHash: 'h',
  text: 'text',
  tokenCount: 1,
  start: 0,
  end: 4,
  ...over,
});

/** A broken backend that ignores the access and returns everything it has. */
class LeakyRetriever extends AclRetriever {
  readonly name = 'leaky';
  seen: UserAccess[] = [];
  readonly chunks: ChunkRecord[];
  constructor(chunks: ChunkRecord[], opts: ConstructorParameters<typeof AclRetriever>[0]) {
    super(opts);
    this.chunks = chunks;
  }
  protected async searchVisible(access: UserAccess): Promise<SearchHit[]> {
    this.seen.push(access);
    return this.chunks.map((c) => ({ chunk: c, score: 1 }));
  }
  protected async readVisible(): Promise<ChunkRecord[]> {
    return this.chunks;
  }
  protected async replaceChecked(_d: DocumentRecord) {
    return { status: 'created' as const };
  }
  protected async deleteChecked() {
    return { deleted: false };
  }
  protected async listChecked() {
    return [];
  }
  protected async getChecked() {
    return null;
  }
  async close() {}
}

describe('visibility', () => {
  it('is tenant first, then public or a shared group', () => {
    const user = { tenant: 'acme', groups: ['legal'] };
    expect(visibleTo(user, chunk({ public: true }))).toBe(true);
    expect(visibleTo(user, chunk({ acl: ['aml', 'legal'] }))).toBe(true);
    expect(visibleTo(user, chunk({ acl: ['aml'] }))).toBe(false);
    expect(visibleTo(user, chunk({ tenant: 'other', public: true }))).toBe(false);
    expect(visibleTo(user, chunk({ tenant: 'other', acl: ['legal'] }))).toBe(false);
    expect(visibleTo({ tenant: 'acme', groups: [] }, chunk({ acl: [] }))).toBe(false);
  });

  it('the shared guard drops what a backend should not have returned and reports it', async () => {
    const violations: string[] = [];
    const leaky = new LeakyRetriever(
      [
        chunk({ docId: 'ok', public: true }),
        chunk({ docId: 'secret', acl: ['aml'] }),
        chunk({ docId: 'x', tenant: 'y', public: true }),
      ],
      { onViolation: ({ chunk: c }) => violations.push(c.docId) },
    );
    const hits = await leaky.search({ tenant: 'acme', groups: ['legal'] }, 'anything');
    expect(hits.map((h) => h.chunk.docId)).toEqual(['ok']);
    expect(violations).toEqual(['secret', 'x']);
    expect(Object.isFrozen(leaky.seen[0])).toBe(true);
  });

  it('refuses a user without a stored profile', async () => {
    const profiles = {
      get: async (id: string) => (id === 'alice' ? { tenant: 'acme', groups: ['legal'] } : null),
    };
    expect(await accessFor(profiles, 'alice')).toEqual({ tenant: 'acme', groups: ['legal'] });
    await expect(accessFor(profiles, 'mallory')).rejects.toBeInstanceOf(MissingAccessError);
    await expect(accessFor(profiles, 'mallory')).rejects.toMatchObject({
      code: 'invalid_request',
      isRetryable: false,
    });
  });
});

describe('citations', () => {
  it('numbers passages and reports the ones the reply cites', () => {
    const hits = [
      { chunk: chunk({ docId: 'a', title: 'AML', text: 'EDD applies.' }), score: 2 },
      { chunk: chunk({ docId: 'b', title: 'Gifts', sectionPath: [], text: 'Register gifts.' }), score: 1 },
    ];
    const { context, citations } = formatPassages(hits);
    expect(context).toBe('[1] (AML — 1. Scope) EDD applies.\n\n[2] (Gifts) Register gifts.');
    expect(citations.map((c) => [c.marker, c.docId, c.section])).toEqual([
      [1, 'a', '1. Scope'],
      [2, 'b', ''],
    ]);
    expect(citationsUsed('Gifts are registered [2].', citations).map((c) => c.docId)).toEqual(['b']);
    expect(citationsUsed('No markers.', citations)).toHaveLength(2);
    expect(CITATION_INSTRUCTIONS).toContain('[2]');
    expect(formatPassages(hits, { maxTokens: 5 }).citations).toHaveLength(1);
  });
});
