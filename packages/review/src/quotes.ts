/** Shortest quote (after whitespace normalisation) that counts as evidence; shorter ones prove nothing. */
export const MIN_QUOTE_CHARS = 12;

/** Every run of whitespace as one space, trimmed: how quotes and documents are compared. */
export function normalizeWhitespace(text: string): string {
  return text.replace(/\s+/gu, ' ').trim();
}

/** Where a quote occurs in the original text: `[start, end)`. */
export interface QuoteSpan {
  start: number;
  end: number;
}

/**
 * A document's text prepared for quote checks: a quote is evidence iff, whitespace normalised, it
 * occurs verbatim in the whitespace-normalised text. `locate` maps a match back to offsets of the
 * original text, so the section a quote came from is the document's, not what the model claims.
 */
export class QuoteIndex {
  readonly #normalized: string;
  /** Offset in the original text of each character of the normalised text. */
  readonly #origin: number[];

  constructor(text: string) {
    const out: string[] = [];
    const origin: number[] = [];
    let pendingSpace = -1;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (/\s/u.test(ch)) {
        if (out.length > 0 && pendingSpace < 0) pendingSpace = i;
        continue;
      }
      if (pendingSpace >= 0) {
        out.push(' ');
        origin.push(pendingSpace);
        pendingSpace = -1;
      }
      out.push(ch);
      origin.push(i);
    }
    this.#normalized = out.join('');
    this.#origin = origin;
  }

  /** The quote's first occurrence in the original text, or null when it does not occur (or is too short). */
  locate(quote: string): QuoteSpan | null {
    const q = normalizeWhitespace(quote);
    if (q.length < MIN_QUOTE_CHARS) return null;
    const at = this.#normalized.indexOf(q);
    if (at < 0) return null;
    return { start: this.#origin[at]!, end: this.#origin[at + q.length - 1]! + 1 };
  }

  /** Whether the quote occurs verbatim, whitespace aside. */
  contains(quote: string): boolean {
    return this.locate(quote) !== null;
  }
}
