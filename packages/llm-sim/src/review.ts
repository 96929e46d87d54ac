import { contentWords, findPassages } from './extractive.ts';
import type { JsonSchema } from './json-schema-example.ts';
import { type ChatRequestMessage, messageText } from './openai-schema.ts';
import type { Prng } from './prng.ts';

/**
 * The structured output name of a document review (`response_format.json_schema.name`), as the
 * fleet's reviewer asks for it. Its prompt layout: the document's passages `[S1]`, `[S2]`, …
 * (policies `[P1]`, … are context only), the checklist as `[item:<id>] <requirement>` lines; the
 * schema's `findings` properties name the items to answer.
 */
export const REVIEW_SCHEMA_NAME = 'document_review';

/** Words that turn a matching sentence into a non-compliant one. */
const NEGATION = /\b(not|no|never|without|none|cannot|fails?)\b/i;

export interface ReviewKnobs {
  /** Fraction (0..1) of evidence quotes replaced by a sentence the document does not contain. */
  fabricatedQuoteRate: number;
  random: Prng;
}

interface Sentence {
  text: string;
  words: Set<string>;
}

/** The sentences of the document passages (`[S<n>]`), each as it appears there (lines joined by spaces). */
function documentSentences(messages: readonly ChatRequestMessage[]): Sentence[] {
  const out: Sentence[] = [];
  for (const m of messages) {
    if (m.role !== 'user' && m.role !== 'system') continue;
    for (const p of findPassages(messageText(m)).passages) {
      if (!/^\[S\d+\]$/.test(p.marker)) continue;
      for (const text of p.text.split(/(?<=[.!?;:])\s+/u)) {
        const trimmed = text.trim();
        if (trimmed.length >= 12) out.push({ text: trimmed, words: contentWords(trimmed) });
      }
    }
  }
  return out;
}

/** Item id → requirement, from the `[item:<id>]` lines of any user or system message. */
function requirements(messages: readonly ChatRequestMessage[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of messages) {
    if (m.role !== 'user' && m.role !== 'system') continue;
    for (const p of findPassages(messageText(m)).passages) {
      const id = /^\[item:(.+)\]$/.exec(p.marker)?.[1];
      if (id && !out.has(id)) out.set(id, p.text);
    }
  }
  return out;
}

/** The item ids a review schema asks about (the properties of `findings`). */
export function reviewItemIds(schema: JsonSchema): string[] {
  if (typeof schema !== 'object') return [];
  const findings = (schema.properties as Record<string, { properties?: Record<string, unknown> }> | undefined)
    ?.findings;
  return Object.keys(findings?.properties ?? {});
}

/**
 * An extractive review: for each item, the document sentence sharing the most content words with its
 * requirement is the evidence, quoted exactly as it stands in the passage. Two shared words or more
 * make a verdict (`non_compliant` when the sentence says no, not, never, without…, else `compliant`),
 * one makes `unclear`, none `not_applicable` without evidence. With `fabricatedQuoteRate`, a quote
 * is replaced by one the document does not contain, so a client's evidence check has work to do.
 */
export function reviewReply(messages: readonly ChatRequestMessage[], schema: JsonSchema, knobs: ReviewKnobs) {
  const sentences = documentSentences(messages);
  const reqs = requirements(messages);
  const findings: Record<string, unknown> = {};
  for (const id of reviewItemIds(schema)) {
    const want = contentWords(reqs.get(id) ?? id);
    let best: Sentence | undefined;
    let score = 0;
    for (const s of sentences) {
      let n = 0;
      for (const w of want) if (s.words.has(w)) n++;
      if (n > score) {
        best = s;
        score = n;
      }
    }
    if (!best || score === 0) {
      findings[id] = {
        verdict: 'not_applicable',
        evidence: [],
        rationale: 'No sentence of the document concerns this requirement.',
        confidence: 0.6,
      };
      continue;
    }
    const verdict = score < 2 ? 'unclear' : NEGATION.test(best.text) ? 'non_compliant' : 'compliant';
    const quote = knobs.random() < knobs.fabricatedQuoteRate ? fabricate(best.text) : best.text;
    findings[id] = {
      verdict,
      evidence: [{ quote }],
      rationale: `The document says so in the quoted sentence (${score} of ${want.size} requirement words).`,
      confidence: Math.round(Math.min(0.99, 0.4 + (0.6 * score) / Math.max(1, want.size)) * 100) / 100,
    };
  }
  return { findings };
}

/** A sentence close to `real` that the document does not contain. */
function fabricate(real: string): string {
  return `${real.replace(/[.!?;:]+$/u, '')}, as confirmed by the board in every case.`;
}

/** JSON text cut short: what a model that ran out of tokens or lost its grammar sends. */
export function breakJson(text: string): string {
  return text.slice(0, Math.max(1, Math.floor(text.length * 0.6)));
}
