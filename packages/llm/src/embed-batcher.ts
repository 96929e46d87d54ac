import { FleetError } from '@agent-fleet/core';

interface Pending {
  texts: string[];
  resolve: (vectors: number[][]) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent `embed()` calls into one embeddings request: a batch goes out when it holds
 * `maxInputs` texts or `maxWaitMs` after its first text arrived, and each caller gets back its own
 * vectors in its own order.
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
    this.#send(texts).then(
      (vectors) => {
        if (vectors.length !== texts.length) {
          const err = new FleetError(
            'upstream_error',
            `embeddings returned ${vectors.length} vectors for ${texts.length} inputs`,
          );
          for (const p of batch) p.reject(err);
          return;
        }
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
}
