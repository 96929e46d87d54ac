/** A context passage found in a prompt, with the citation marker it was given. */
export interface Passage {
  /** The marker as written, brackets included: `[1]`, `[doc:section]`. */
  marker: string;
  text: string;
}

/**
 * A passage starts at a line beginning with a citation marker, and runs until the next marker
 * line or a blank line. Accepted markers: `[1]`, `[12]`; `[S3]`, `[doc2]` (letters then digits);
 * and anything with a colon, `[doc:section]`, `[policy-7:3.2]`, `[kyc.md:2]` (no brackets or
 * line breaks inside, up to 120 characters).
 */
const MARKER_LINE = /^\s*(\[(?:\d{1,4}|[A-Za-z]{1,12}\d{1,6}|[^[\]\n:]{1,80}:[^[\]\n]{1,80})\])[ \t]*(.*)$/;

/** Words that say nothing about which passage answers a question. */
const STOPWORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have how i if in into is it its ' +
    'me my no not of on or our so than that the their them then there these they this to was we were what when ' +
    'where which who whom why will with would you your about please tell answer question context sources source ' +
    'passages passage using use based given following'
  ).split(' '),
);

/** Lowercased content words (letters/digits), with a light plural strip so "rules" meets "rule". */
export function contentWords(text: string): Set<string> {
  const words = new Set<string>();
  for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) {
    let w = m[0];
    if (w.length < 2 || STOPWORDS.has(w)) continue;
    if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) w = w.slice(0, -1);
    words.add(w);
  }
  return words;
}

/** Splits text into passages (see {@link MARKER_LINE}) and the remaining lines. */
export function findPassages(text: string): { passages: Passage[]; rest: string } {
  const passages: Passage[] = [];
  const rest: string[] = [];
  let current: Passage | undefined;
  for (const line of text.split(/\r?\n/)) {
    const m = MARKER_LINE.exec(line);
    if (m) {
      current = { marker: m[1]!, text: m[2]!.trim() };
      passages.push(current);
    } else if (line.trim() === '') {
      current = undefined;
    } else if (current) {
      current.text = current.text ? `${current.text} ${line.trim()}` : line.trim();
    } else {
      rest.push(line);
    }
  }
  return { passages: passages.filter((p) => p.text.length > 0), rest: rest.join('\n').trim() };
}

function overlap(a: Set<string>, b: Set<string>): number {
  let n = 0;
  for (const w of a) if (b.has(w)) n++;
  return n;
}

function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+(?=[\p{Lu}\p{N}"'([])/u)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** The reply when no passage was given at all. */
export const NO_SOURCES_REPLY = 'I have no sources to answer this from.';
/** The reply when passages were given but none shares a word with the question. */
export const NO_MATCH_REPLY = 'The provided sources do not answer this question.';

/**
 * An extractive answer: the 1-3 passages sharing the most content words with the question (the
 * best one, plus others scoring at least half as well), in score order; from each, up to two of its
 * sentences that share words with the question (its first sentence if none does), ending with the
 * passage's citation marker: `Sentence one. Sentence two [1]. Other fact [doc:2].`
 */
export function extractiveAnswer(question: string, passages: readonly Passage[]): string {
  if (passages.length === 0) return NO_SOURCES_REPLY;
  const q = contentWords(question);
  const scored = passages
    .map((p, i) => ({ p, i, score: overlap(q, contentWords(p.text)) }))
    .filter((s) => s.score > 0)
    .sort((a, b) => b.score - a.score || a.i - b.i);
  if (scored.length === 0) return NO_MATCH_REPLY;
  const top = scored[0]!.score;
  const chosen = scored.filter((s) => s.score * 2 >= top).slice(0, 3);
  const parts = chosen.map(({ p }) => {
    const all = sentences(p.text);
    const ranked = all
      .map((s, i) => ({ s, i, score: overlap(q, contentWords(s)) }))
      .filter((x) => x.score > 0)
      .sort((a, b) => b.score - a.score || a.i - b.i)
      .slice(0, 2)
      .sort((a, b) => a.i - b.i)
      .map((x) => x.s);
    const picked = (ranked.length > 0 ? ranked : all.slice(0, 1)).join(' ');
    return `${picked.replace(/[\s.!?;:,]+$/u, '')} ${p.marker}.`;
  });
  return parts.join(' ');
}
