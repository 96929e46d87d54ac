import { countTokens, FleetError } from '@agent-fleet/core';

/** What one embeddings request (or one caller's share of them) returned. */
export interface BatchedEmbedding {
  /** One vector per text, in order. */
  vectors: number[][];
  /** The server's reported prompt tokens for these texts (a caller's share of a batch's). */
  promptTokens: number;
}

interface Pending {
  texts: string[];
  resolve: (result: BatchedEmbedding) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent `embed()` calls into embeddings requests: a batch goes out when it holds
 * `maxInputs` texts or `maxWaitMs` after its first text arrived; no request carries more than
 * `maxInputs` texts (a larger batch goes out as several requests at once, as servers cap their
 * batch size); each caller gets back its own vectors in its own order, or the batch's error.
 *
 * A server reports one token count per request, so each request's count is shared out over its
 * texts in proportion to their own token counts (largest remainders, so the shares add up to the
 * server's count exactly): what every caller is charged sums to what the servers reported, and a
 * caller alone in its request gets that request's count as it is.
 */
export class EmbeddingBatcher {
  readonly #send: (texts: string[]) => Promise<BatchedEmbedding>;
  readonly #maxInputs: number;
  readonly #maxWaitMs: number;
  #pending: Pending[] = [];
  #count = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    send: (texts: string[]) => Promise<BatchedEmbedding>,
    opts: { maxInputs?: number; maxWaitMs?: number } = {},
  ) {
    this.#send = send;
    this.#maxInputs = opts.maxInputs ?? 64;
    this.#maxWaitMs = opts.maxWaitMs ?? 5;
  }

  embed(texts: string[]): Promise<BatchedEmbedding> {
    if (texts.length === 0) return Promise.resolve({ vectors: [], promptTokens: 0 });
    return new Promise((resolve, reject) => {
      this.#pending.push({ texts, resolve, reject });
      this.#count += texts.length;
      if (this.#count >= this.#maxInputs) this.flush();
      else this.#timer ??= setTimeout(() => this.flush(), this.#maxWaitMs);
    });
  }

  /** Send what is waiting now. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    this.#count = 0;
    if (batch.length === 0) return;
    const texts = batch.flatMap((p) => p.texts);
    this.#sendAll(texts).then(
      ({ vectors, tokens }) => {
        let at = 0;
        for (const p of batch) {
          const end = at + p.texts.length;
          p.resolve({ vectors: vectors.slice(at, end), promptTokens: sum(tokens.slice(at, end)) });
          at = end;
        }
      },
      (err) => {
        for (const p of batch) p.reject(err);
      },
    );
  }

  /** Every text's vector and its share of its request's tokens. */
  async #sendAll(texts: string[]): Promise<{ vectors: number[][]; tokens: number[] }> {
    const requests: Promise<{ vectors: number[][]; tokens: number[] }>[] = [];
    for (let i = 0; i < texts.length; i += this.#maxInputs) {
      const slice = texts.slice(i, i + this.#maxInputs);
      requests.push(
        this.#send(slice).then(({ vectors, promptTokens }) => {
          if (vectors.length === slice.length) return { vectors, tokens: shareOut(promptTokens, slice) };
          throw new FleetError(
            'upstream_error',
            `embeddings returned ${vectors.length} vectors for ${slice.length} inputs`,
          );
        }),
      );
    }
    const parts = await Promise.all(requests);
    return { vectors: parts.flatMap((p) => p.vectors), tokens: parts.flatMap((p) => p.tokens) };
  }
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * `total` split over `texts` in proportion to their token counts (at least 1 each), in whole
 * tokens that add up to `total`: the floors first, then one more to the largest remainders.
 */
export function shareOut(total: number, texts: readonly string[]): number[] {
  const weights = texts.map((t) => Math.max(1, countTokens(t)));
  const whole = sum(weights);
  const exact = weights.map((w) => (total * w) / whole);
  const shares = exact.map(Math.floor);
  const order = exact.map((x, i) => ({ i, rest: x - Math.floor(x) })).sort((a, b) => b.rest - a.rest);
  for (let k = 0, left = total - sum(shares); left > 0; k++, left--) shares[order[k % order.length]!.i]! += 1;
  return shares;
}
