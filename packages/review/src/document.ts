import { createHash } from 'node:crypto';
import { countTokens } from '@agent-fleet/core';
import type { ChunkRecord } from '@agent-fleet/rag';
import { QuoteIndex } from './quotes.ts';

/** A run of the document's text under one heading path: `[start, end)` of `text`. */
export interface Section {
  path: string[];
  start: number;
  end: number;
}

/** A document as the reviewer sees it: its whole text, its sections, and what checks quotes against it. */
export interface ReviewDocument {
  docId: string;
  title: string;
  text: string;
  sections: Section[];
  chunks: ChunkRecord[];
  /** sha256 of `text`: equal to the registry's contentHash, since chunks tile the text. */
  contentHash: string;
  tokens: number;
  quotes: QuoteIndex;
}

/**
 * The document rebuilt from its chunks: chunks are exact slices `[start, end)` that together cover
 * the text (overlapping), so the text is each chunk written at its offset; consecutive chunks under
 * one heading path form a section (chunks never cross a section).
 */
export function assembleDocument(chunks: readonly ChunkRecord[]): ReviewDocument {
  const sorted = [...chunks].sort((a, b) => a.chunkIndex - b.chunkIndex);
  const first = sorted[0];
  if (!first) throw new Error('a document needs at least one chunk');
  const parts: string[] = [];
  let covered = 0;
  for (const c of sorted) {
    if (c.end <= covered) continue;
    parts.push(c.text.slice(Math.max(0, covered - c.start)));
    covered = c.end;
  }
  const text = parts.join('');
  const sections: Section[] = [];
  for (const c of sorted) {
    const last = sections[sections.length - 1];
    if (last && samePath(last.path, c.sectionPath)) last.end = Math.max(last.end, c.end);
    else sections.push({ path: c.sectionPath, start: c.start, end: c.end });
  }
  return {
    docId: first.docId,
    title: first.title,
    text,
    sections,
    chunks: sorted,
    contentHash: createHash('sha256').update(text).digest('hex'),
    tokens: countTokens(text),
    quotes: new QuoteIndex(text),
  };
}

/** The heading path, joined with ` > `, of the section holding offset `at` ('' outside any heading). */
export function sectionAt(doc: ReviewDocument, at: number): string {
  const s = doc.sections.find((x) => at >= x.start && at < x.end);
  return s ? s.path.join(' > ') : '';
}

/** Characters of context kept on each side of a quote. */
const CONTEXT_CHARS = 160;

/**
 * The text around `[start, end)` of the document: up to CONTEXT_CHARS on each side, whitespace
 * normalised, cut back to whole words (an ellipsis where the cut is inside the text).
 */
export function contextAround(
  doc: ReviewDocument,
  start: number,
  end: number,
): { before: string; after: string } {
  const from = Math.max(0, start - CONTEXT_CHARS);
  const to = Math.min(doc.text.length, end + CONTEXT_CHARS);
  let before = doc.text.slice(from, start).replace(/\s+/gu, ' ').trimStart();
  let after = doc.text.slice(end, to).replace(/\s+/gu, ' ').trimEnd();
  if (from > 0) before = `…${before.replace(/^\S*\s?/u, '')}`;
  if (to < doc.text.length) after = `${after.replace(/\s?\S*$/u, '')}…`;
  return { before, after };
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
