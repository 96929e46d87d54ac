import { FleetError } from '@agent-fleet/core';
import {
  type BatchedEmbedding,
  EmbeddingBatcher,
  type PoolEmbedRequest,
  type PoolEmbedResult,
  type PriorityClass,
} from '@agent-fleet/llm';
import type { Embedder, EmbeddingUsageListener } from './ports.ts';

/** The part of an LLM pool the embedder uses (`LlmPool` has it). */
export interface EmbeddingsPool {
  embed(req: PoolEmbedRequest): Promise<PoolEmbedResult>;
}

export interface PoolEmbedderOptions {
  pool: EmbeddingsPool;
  model: string;
  dimensions: number;
  /** Ask the server to shorten vectors to `dimensions` (OpenAI text-embedding-3 models). */
  sendDimensions?: boolean;
  /** Query embeddings sit on a turn's path: `interactive` by default. */
  priority?: PriorityClass;
  /** The routing key of embeddings requests (they mix texts of many callers); default `embeddings`. */
  routingKey?: string;
  /** Micro-batching: texts per request and how long a batch waits for company. */
  batch?: { maxInputs?: number; maxWaitMs?: number };
}

/**
 * Dense embeddings from OpenAI-compatible `/v1/embeddings` servers (vLLM, TEI, OpenAI) through the
 * LLM pool, so they get its routing, admission, circuit breakers and retry policy; concurrent
 * callers are coalesced into batched requests, and each caller is told its share of the tokens the
 * servers reported. Errors are the pool's `FleetError`s (`isRetryable` says whether trying again
 * can help); a vector of the wrong size is a non-retryable `upstream_error`.
 */
export class PoolEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  readonly #o: PoolEmbedderOptions;
  readonly #batcher: EmbeddingBatcher;

  constructor(opts: PoolEmbedderOptions) {
    if (!Number.isInteger(opts.dimensions) || opts.dimensions < 1)
      throw new FleetError('invalid_config', 'PoolEmbedder needs a positive whole number of dimensions');
    this.dimensions = opts.dimensions;
    this.id = `${opts.model}/${opts.dimensions}`;
    this.#o = opts;
    this.#batcher = new EmbeddingBatcher((input) => this.#send(input), opts.batch);
  }

  async embed(texts: string[], opts: { onUsage?: EmbeddingUsageListener } = {}): Promise<number[][]> {
    const { vectors, promptTokens } = await this.#batcher.embed(texts);
    opts.onUsage?.({ model: this.#o.model, promptTokens });
    for (const [i, v] of vectors.entries()) {
      if (v.length !== this.dimensions)
        throw new FleetError(
          'upstream_error',
          `the embeddings server returned ${v.length} dimensions for input ${i}, expected ${this.dimensions} (EMBEDDINGS_DIMENSIONS)`,
          { retryable: false },
        );
    }
    return vectors;
  }

  async #send(input: string[]): Promise<BatchedEmbedding> {
    return this.#o.pool.embed({
      input,
      model: this.#o.model,
      userId: this.#o.routingKey ?? 'embeddings',
      priority: this.#o.priority ?? 'interactive',
      ...(this.#o.sendDimensions ? { dimensions: this.dimensions } : {}),
    });
  }
}
