import { type ChunkRecord, type Citation, passageText, type Retriever } from '@agent-fleet/rag';
import type { NoteStore } from '@agent-fleet/state';
import { z } from 'zod';
import type { ToolContext, ToolRegistry } from './tools.ts';

function cite(ctx: ToolContext, chunk: ChunkRecord): number {
  const marker = ctx.citations.length + 1;
  const section = chunk.sectionPath.join(' > ');
  ctx.citations.push({
    marker,
    docId: chunk.docId,
    title: chunk.title,
    section,
    sectionPath: chunk.sectionPath,
    source: chunk.source,
    chunkIndex: chunk.chunkIndex,
  } as Citation);
  return marker;
}

const noAccess = { error: 'this user has no document access (no profile)' };

/** The document search tool's name: prompts that invite the model to search again name it. */
export const SEARCH_DOCUMENTS = 'search_documents';

/**
 * The built-in tools: document search and reading under the user's ACL (access comes from the
 * stored profile, never from the model's arguments), and the agent's long-term notes.
 */
export function registerBuiltinTools(
  registry: ToolRegistry,
  deps: { retriever: Retriever; notes: NoteStore },
): void {
  registry
    .register({
      name: SEARCH_DOCUMENTS,
      description:
        'Search the documents this user may read. Returns numbered passages; cite them with their marker, e.g. [3].',
      parameters: z.object({
        query: z.string().min(1).max(500).describe('what to look for'),
        k: z.number().int().min(1).max(10).optional().describe('how many passages (default 5)'),
      }),
      run: async ({ query, k }, ctx) => {
        if (!ctx.access) return noAccess;
        const hits = await deps.retriever.search(ctx.access, query, {
          k: k ?? 5,
          ...(ctx.onEmbeddingUsage ? { onUsage: ctx.onEmbeddingUsage } : {}),
        });
        if (hits.length === 0) return { passages: [], note: 'nothing found' };
        return hits
          .map(({ chunk }) => {
            const section = chunk.sectionPath.join(' > ');
            return `[${cite(ctx, chunk)}] (${chunk.title}${section ? ` — ${section}` : ''}) ${passageText(chunk.text)}`;
          })
          .join('\n\n');
      },
    })
    .register({
      name: 'read_document_section',
      description: 'Read a whole document, or one of its sections, that this user may read.',
      parameters: z.object({
        docId: z.string().min(1).max(128),
        section: z.string().max(500).optional().describe('the section path, e.g. "Policy > 3. Thresholds"'),
      }),
      run: async ({ docId, section }, ctx) => {
        if (!ctx.access) return noAccess;
        const chunks = await deps.retriever.readDocument(ctx.access, docId, {
          ...(section ? { section } : {}),
          maxChunks: 8,
        });
        if (chunks.length === 0)
          return { error: `no document ${docId}${section ? ` with section "${section}"` : ''} you may read` };
        const marker = cite(ctx, chunks[0]!);
        return `[${marker}] ${chunks[0]!.title}\n${chunks.map((c) => c.text.trim()).join('\n')}`;
      },
    })
    .register({
      name: 'save_note',
      description: 'Remember something about this user for later conversations.',
      parameters: z.object({ text: z.string().min(1).max(2000) }),
      run: async ({ text }, ctx) => {
        const note = await deps.notes.save(ctx.userId, ctx.turnId, ctx.callId, text);
        return { saved: true, id: note.id };
      },
    })
    .register({
      name: 'recall_notes',
      description: 'Recall notes saved about this user, newest first, optionally those matching a query.',
      parameters: z.object({ query: z.string().max(200).optional() }),
      run: async ({ query }, ctx) => {
        const notes = await deps.notes.recall(ctx.userId, { ...(query ? { query } : {}), limit: 10 });
        return { notes: notes.map((n) => ({ text: n.text, savedAt: n.createdAt })) };
      },
    });
}
