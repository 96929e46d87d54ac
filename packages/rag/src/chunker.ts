import { countTokens } from '@agent-fleet/core';
import type { HeadingMark } from './parse.ts';

export interface ChunkOptions {
  /** Upper bound of a chunk's tokens (cl100k; a boundary can add one or two). Defaults to 300. */
  maxTokens?: number;
  /** Tokens of the previous chunk's end repeated at the start of the next one. Defaults to 50. */
  overlapTokens?: number;
}

export const DEFAULT_CHUNKING: Required<ChunkOptions> = { maxTokens: 300, overlapTokens: 50 };

/** A slice `[start, end)` of the document's text, under the headings in `sectionPath`. */
export interface TextChunk {
  text: string;
  start: number;
  end: number;
  sectionPath: string[];
  tokenCount: number;
}

interface Section {
  start: number;
  end: number;
  path: string[];
}

/**
 * Splits `text` into token-bounded chunks that never cross a section boundary, each knowing the
 * headings it sits under. Chunks are exact, contiguous slices of `text`; consecutive chunks of a
 * section overlap by about `overlapTokens`, and together they cover every character of `text`.
 * Within a section, cuts fall after line breaks or sentence ends, else between words, and only a
 * run of text without either is cut at an arbitrary character.
 */
export function chunkText(text: string, headings: HeadingMark[], opts: ChunkOptions = {}): TextChunk[] {
  const maxTokens = Math.max(16, opts.maxTokens ?? DEFAULT_CHUNKING.maxTokens);
  const overlap = Math.min(Math.max(0, opts.overlapTokens ?? DEFAULT_CHUNKING.overlapTokens), maxTokens / 2);
  const out: TextChunk[] = [];
  for (const section of sections(text, headings)) {
    for (const [start, end] of packSection(text, section.start, section.end, maxTokens, overlap)) {
      const slice = text.slice(start, end);
      out.push({ text: slice, start, end, sectionPath: section.path, tokenCount: countTokens(slice) });
    }
  }
  return out;
}

/**
 * Sections tile the text. Text before the first heading is a section with an empty path; a section
 * holding nothing but its heading line joins the next one, whose path includes it when nested.
 */
function sections(text: string, headings: HeadingMark[]): Section[] {
  const marks = headings
    .filter((h) => h.start > 0 && h.start < text.length)
    .sort((a, b) => a.start - b.start);
  const first = headings.find((h) => h.start === 0);
  const stack: HeadingMark[] = [];
  const pathAt = (h: HeadingMark | undefined) => {
    if (!h) return [];
    while (stack.length > 0 && stack[stack.length - 1]!.level >= h.level) stack.pop();
    stack.push(h);
    return stack.map((s) => s.heading);
  };
  const raw: Section[] = [];
  let start = 0;
  let path = pathAt(first);
  for (const mark of marks) {
    raw.push({ start, end: mark.start, path });
    start = mark.start;
    path = pathAt(mark);
  }
  raw.push({ start, end: text.length, path });

  const merged: Section[] = [];
  let carry: number | null = null;
  raw.forEach((s, i) => {
    const body = text.slice(s.start, s.end);
    const headingOnly =
      body.trim() === '' || (/^#{1,6}\s/.test(body.trimStart()) && !body.trim().includes('\n'));
    const from = carry ?? s.start;
    if (headingOnly && i < raw.length - 1) {
      carry = from;
      return;
    }
    carry = null;
    if (s.end > from) merged.push({ start: from, end: s.end, path: s.path });
  });
  return merged;
}

/** Cut points of a range: after newlines, and after sentence punctuation followed by blanks. */
const SENTENCE_CUTS = /\n+|(?<=[.!?;])[ \t]+/g;
const WORD_CUTS = /[ \t]+/g;

function packSection(
  text: string,
  start: number,
  end: number,
  max: number,
  overlap: number,
): [number, number][] {
  if (end <= start) return [];
  if (countTokens(text.slice(start, end)) <= max) return [[start, end]];
  const pieces = splitRange(text, start, end, max);
  const tokens = pieces.map(([a, b]) => countTokens(text.slice(a, b)));
  const out: [number, number][] = [];
  let i = 0;
  while (i < pieces.length) {
    let j = i;
    let sum = 0;
    while (j < pieces.length && (j === i || sum + tokens[j]! <= max)) sum += tokens[j++]!;
    out.push([pieces[i]![0], pieces[j - 1]![1]]);
    if (j >= pieces.length) break;
    // Step back over whole pieces worth at most `overlap` tokens, leaving room for the next piece.
    let next = j;
    let back = 0;
    while (
      next - 1 > i &&
      back + tokens[next - 1]! <= overlap &&
      back + tokens[next - 1]! + tokens[j]! <= max
    )
      back += tokens[--next]!;
    i = next;
  }
  return out;
}

/** Tiles `[start, end)` with pieces of at most `max` tokens: sentences, else words, else characters. */
function splitRange(text: string, start: number, end: number, max: number): [number, number][] {
  const out: [number, number][] = [];
  for (const [a, b] of cutAt(text, start, end, SENTENCE_CUTS)) {
    if (countTokens(text.slice(a, b)) <= max) {
      out.push([a, b]);
      continue;
    }
    for (const [c, d] of cutAt(text, a, b, WORD_CUTS)) {
      if (countTokens(text.slice(c, d)) <= max) out.push([c, d]);
      else out.push(...hardSplit(text, c, d, max));
    }
  }
  return out;
}

function cutAt(text: string, start: number, end: number, re: RegExp): [number, number][] {
  const out: [number, number][] = [];
  const slice = text.slice(start, end);
  let from = 0;
  for (const m of slice.matchAll(re)) {
    const cut = m.index + m[0].length;
    if (cut > from && cut < slice.length) {
      out.push([start + from, start + cut]);
      from = cut;
    }
  }
  out.push([start + from, end]);
  return out;
}

/** The longest prefixes that fit, found by binary search; never splits a surrogate pair. */
function hardSplit(text: string, start: number, end: number, max: number): [number, number][] {
  const out: [number, number][] = [];
  let a = start;
  while (a < end) {
    let lo = a + 1;
    let hi = end;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (countTokens(text.slice(a, mid)) <= max) lo = mid;
      else hi = mid - 1;
    }
    let cut = lo;
    const code = text.charCodeAt(cut - 1);
    if (cut < end && code >= 0xd800 && code <= 0xdbff && cut - 1 > a) cut--;
    out.push([a, cut]);
    a = cut;
  }
  return out;
}
