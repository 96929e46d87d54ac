import { countTokens } from '@agent-fleet/core';
import type { PoolMessage } from '@agent-fleet/llm';
import type { ChunkRecord } from '@agent-fleet/rag';
import type { ChecklistItem } from './checklist.ts';
import type { ReviewDocument } from './document.ts';

/** A passage of text put into a prompt under a marker: `[S1]` for the document, `[P1]` for a policy. */
export interface Passage {
  label?: string;
  text: string;
}

export const REVIEW_SYSTEM_PROMPT =
  'You review documents for a compliance team. For each checklist item decide whether the document ' +
  'is compliant, non_compliant, not_applicable (the item does not concern this document) or unclear. ' +
  'Evidence must be exact quotes copied from the document passages [S1], [S2], ... (never from the ' +
  'policies or the checklist); give at least one quote for compliant and non_compliant. Keep the ' +
  'rationale short and give a confidence between 0 and 1. Answer with JSON only.';

const STOPWORDS = new Set(
  'the and for are with that this from must have has any all its their been were shall will not into per'.split(
    ' ',
  ),
);

/** Lowercased content words of at least three letters or digits. */
export function contentWords(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}]{3,}/gu)) if (!STOPWORDS.has(m[0])) out.add(m[0]);
  return out;
}

/**
 * The document's passages for a prompt about `items`: its sections in order when the whole text fits
 * `budgetTokens`; otherwise the chunks sharing most words with the items' requirements, up to the
 * budget, in document order with overlapping chunks merged, so each passage is a slice of the text.
 */
export function documentPassages(
  doc: ReviewDocument,
  items: readonly ChecklistItem[],
  budgetTokens: number,
): Passage[] {
  if (doc.tokens <= budgetTokens) return doc.sections.map((s) => ({ text: doc.text.slice(s.start, s.end) }));
  const want = contentWords(items.map((i) => i.requirement).join(' '));
  const ranked = doc.chunks
    .map((c) => ({ c, score: overlap(want, contentWords(c.text)) }))
    .sort((a, b) => b.score - a.score || a.c.chunkIndex - b.c.chunkIndex);
  const chosen: ChunkRecord[] = [];
  let used = 0;
  for (const { c } of ranked) {
    if (used + c.tokenCount > budgetTokens && chosen.length > 0) continue;
    chosen.push(c);
    used += c.tokenCount;
  }
  chosen.sort((a, b) => a.start - b.start);
  const spans: { start: number; end: number }[] = [];
  for (const c of chosen) {
    const last = spans[spans.length - 1];
    if (last && c.start <= last.end) last.end = Math.max(last.end, c.end);
    else spans.push({ start: c.start, end: c.end });
  }
  return spans.map((s) => ({ text: doc.text.slice(s.start, s.end) }));
}

/** The passages that fit `budgetTokens`, in order. */
export function withinBudget(passages: readonly Passage[], budgetTokens: number): Passage[] {
  const out: Passage[] = [];
  let used = 0;
  for (const p of passages) {
    const tokens = countTokens(p.text);
    if (used + tokens > budgetTokens) break;
    used += tokens;
    out.push(p);
  }
  return out;
}

/**
 * A passage as one block of lines: lines trimmed, blank lines dropped. Only whitespace changes, so a
 * quote copied from it still occurs in the document once whitespace is normalised; and a passage
 * never reads as two (a blank line ends a passage).
 */
function block(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join('\n');
}

function overlap(a: Set<string>, b: Set<string>): number {
  let n = 0;
  for (const w of a) if (b.has(w)) n++;
  return n;
}

/**
 * The first two messages of a review call. The layout is stable and parseable: the document's
 * passages as `[S<n>]`, the cited policies as `[P<n>]`, the items as `[item:<id>]` lines, each
 * separated by a blank line. The document comes first, so calls about other items of the same
 * document share the prompt prefix (and the servers' prefix cache).
 */
export function reviewMessages(input: {
  doc: ReviewDocument;
  passages: readonly Passage[];
  policies: readonly Passage[];
  items: readonly ChecklistItem[];
}): PoolMessage[] {
  const parts = [`Document: ${input.doc.title} (${input.doc.docId})`];
  input.passages.forEach((p, i) => {
    parts.push(`[S${i + 1}] ${block(p.text)}`);
  });
  if (input.policies.length > 0) {
    parts.push('Policies the checklist cites (context only; never quote them as evidence):');
    input.policies.forEach((p, i) => {
      parts.push(`[P${i + 1}] ${p.label ? `(${p.label}) ` : ''}${block(p.text)}`);
    });
  }
  parts.push(
    `Checklist:\n${input.items
      .map(
        (it) =>
          `[item:${it.id}] ${oneLine(it.requirement)}${it.policyRef ? ` (policy: ${oneLine(it.policyRef)})` : ''}`,
      )
      .join('\n')}`,
  );
  parts.push(`Give a finding for each of these items: ${input.items.map((i) => i.id).join(', ')}.`);
  return [
    { role: 'system', content: REVIEW_SYSTEM_PROMPT },
    { role: 'user', content: parts.join('\n\n') },
  ];
}

/** The follow-up asking again about `itemIds`, naming what was wrong with the previous reply. */
export function reaskMessage(problems: readonly string[], itemIds: readonly string[]): PoolMessage {
  return {
    role: 'user',
    content:
      `Your previous answer could not be used:\n${problems.map((p) => `- ${p}`).join('\n')}\n\n` +
      `Answer again for these items only: ${itemIds.join(', ')}. Quote only text copied exactly from the ` +
      'document passages [S1], [S2], ...; answer with JSON only.',
  };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
