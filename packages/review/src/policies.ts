import type { ChunkRecord } from '@agent-fleet/rag';
import { DOC_ID_PATTERN, type Retriever, type UserAccess } from '@agent-fleet/rag';
import type { ChecklistItem } from './checklist.ts';
import { contentWords, type Passage, withinBudget } from './prompt.ts';

/**
 * The passages of the policies `items` cite, read under the run user's access only (the ACL
 * retriever filters and re-checks every chunk), so a policy the user may not read never reaches a
 * prompt. A `policyRef` that is a docId (optionally `docId#Section`) reads that document; otherwise,
 * or when nothing of it is visible, the words of the reference and the requirements are searched.
 * Within each policy the chunks sharing most words with its requirements come first; all of them
 * together stay within `budgetTokens`.
 */
export async function policyPassages(
  retriever: Retriever,
  access: UserAccess,
  items: readonly ChecklistItem[],
  budgetTokens: number,
): Promise<Passage[]> {
  const byRef = new Map<string, string[]>();
  for (const item of items)
    if (item.policyRef) byRef.set(item.policyRef, [...(byRef.get(item.policyRef) ?? []), item.requirement]);
  if (byRef.size === 0 || budgetTokens <= 0) return [];
  const perPolicy = Math.floor(budgetTokens / byRef.size);
  const out: Passage[] = [];
  for (const [ref, requirements] of byRef) {
    const chunks = await policyChunks(retriever, access, ref, requirements);
    const want = contentWords(requirements.join(' '));
    const ranked = chunks
      .map((c) => ({ c, score: [...contentWords(c.text)].filter((w) => want.has(w)).length }))
      .sort((a, b) => b.score - a.score || a.c.chunkIndex - b.c.chunkIndex)
      .map(({ c }) => ({ label: labelOf(ref, c), text: c.text }));
    out.push(...withinBudget(ranked, perPolicy));
  }
  return out;
}

async function policyChunks(
  retriever: Retriever,
  access: UserAccess,
  ref: string,
  requirements: readonly string[],
): Promise<ChunkRecord[]> {
  const [docId = '', section] = ref.split('#', 2);
  if (DOC_ID_PATTERN.test(docId)) {
    const chunks = await retriever.readDocument(access, docId, {
      ...(section ? { section } : {}),
      maxChunks: 200,
    });
    if (chunks.length > 0) return chunks;
  }
  const hits = await retriever.search(access, `${ref} ${requirements.join(' ')}`, { k: 4 });
  return hits.map((h) => h.chunk);
}

function labelOf(ref: string, c: ChunkRecord): string {
  const section = c.sectionPath.join(' > ');
  return `policy ${ref}: ${c.title}${section ? ` — ${section}` : ''}`;
}
