import { countTokens } from '@agent-fleet/core';
import type { SearchHit } from './ports.ts';

/** What a reply cites: enough to show a reference and to open the document. */
export interface Citation {
  /** The number in the passage's marker, `[n]`. */
  marker: number;
  docId: string;
  title: string;
  /** The section path joined with ` > `, empty when the passage is outside any section. */
  section: string;
  sectionPath: string[];
  source: string;
  chunkIndex: number;
}

export const CITATION_INSTRUCTIONS =
  'Answer from the numbered passages below. Cite every statement that relies on a passage with its ' +
  'marker, e.g. [2]. If the passages do not contain the answer, say so; do not invent references.';

/**
 * Numbers the passages `[1]`, `[2]`, … in rank order for a prompt, stopping before `maxTokens`,
 * and returns the matching citations. Passages are quoted as stored; headings give each its place.
 */
export function formatPassages(
  hits: SearchHit[],
  opts: { maxTokens?: number } = {},
): {
  context: string;
  citations: Citation[];
} {
  const budget = opts.maxTokens ?? 3000;
  const blocks: string[] = [];
  const citations: Citation[] = [];
  let used = 0;
  for (const { chunk } of hits) {
    const marker = citations.length + 1;
    const section = chunk.sectionPath.join(' > ');
    const block = `[${marker}] (${chunk.title}${section ? ` — ${section}` : ''}) ${passageText(chunk.text)}`;
    const tokens = countTokens(block);
    if (used + tokens > budget && blocks.length > 0) break;
    used += tokens;
    blocks.push(block);
    citations.push({
      marker,
      docId: chunk.docId,
      title: chunk.title,
      section,
      sectionPath: chunk.sectionPath,
      source: chunk.source,
      chunkIndex: chunk.chunkIndex,
    });
  }
  return { context: blocks.join('\n\n'), citations };
}

/** The citations whose marker appears in `reply`, in marker order; all of them if none appears. */
export function citationsUsed(reply: string, citations: Citation[]): Citation[] {
  const cited = new Set([...reply.matchAll(/\[(\d{1,3})\]/g)].map((m) => Number(m[1])));
  const used = citations.filter((c) => cited.has(c.marker));
  return used.length > 0 ? used : citations;
}

/**
 * A chunk's text as a prompt passage: one block (no blank lines, so a passage never reads as two)
 * without Markdown heading lines, which the passage's label already names.
 */
export function passageText(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\s{0,3}#{1,6}\s/.test(line))
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join('\n');
}
