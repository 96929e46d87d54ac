import { FleetError } from '@agent-fleet/core';

interface Pending {
  texts: string[];
  resolve: (vectors: number[][]) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent `embed()` calls into embeddings requests: a batch goes out when it holds
 * `maxInputs` texts or `maxWaitMs` after its first text arrived; no request carries more than
 * `maxInputs` texts (a larger batch goes out as several requests at once, as servers cap their
 * batch size); each caller gets back its own vectors in its own order, or the batch's error.
 */
export class EmbeddingBatcher {
  readonly #send: (texts: string[]) => Promise<number[][]>;
  readonly #maxInputs: number;
  readonly #maxWaitMs: number;
  #pending: Pending[] = [];
  #count = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    send: (texts: string[]) => Promise<number[][]>,
    opts: { maxInputs?: number; maxWaitMs?: number } = {},
  ) {
    this.#send = send;
    this.#maxInputs = opts.maxInputs ?? 64;
    this.#maxWaitMs = opts.maxWaitMs ?? 5;
  }

  embed(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return Promise.resolve([]);
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
      (vectors) => {
        let at = 0;
        for (const p of batch) {
          p.resolve(vectors.slice(at, at + p.texts.length));
          at += p.texts.length;
        }
      },
      (err) => {
        for (const p of batch) p.reject(err);
      },
    );
  }

  async #sendAll(texts: string[]): Promise<number[][]> {
    const requests: Promise<number[][]>[] = [];
    for (let i = 0; i < texts.length; i += this.#maxInputs) {
      const slice = texts.slice(i, i + this.#maxInputs);
      requests.push(
        this.#send(slice).then((vectors) => {
          if (vectors.length === slice.length) return vectors;
          throw new FleetError(
            'upstream_error',
            `embeddings returned ${vectors.length} vectors for ${slice.length} inputs`,
          );
        }),
      );
    }
    return (await Promise.all(requests)).flat();
  }
}
