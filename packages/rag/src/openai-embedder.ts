import { FleetError, isRetryableStatus } from '@agent-fleet/core';
import type { Embedder } from './ports.ts';

export interface OpenAiEmbedderOptions {
  /** The API base, e.g. `http://tei:8080/v1` or `https://api.openai.com/v1`; `/embeddings` is appended. */
  baseUrl: string;
  model: string;
  dimensions: number;
  apiKey?: string;
  /** Ask the server to shorten vectors to `dimensions` (OpenAI text-embedding-3 models). */
  sendDimensions?: boolean;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

interface EmbeddingsResponse {
  data?: { index: number; embedding: number[] }[];
}

/**
 * Dense embeddings from any OpenAI-compatible `POST /v1/embeddings` (vLLM, TEI, OpenAI). Errors
 * become `FleetError`s whose `isRetryable` follows the status; a response of the wrong shape or
 * size is an `upstream_error`.
 */
export class OpenAiEmbedder implements Embedder {
  readonly dimensions: number;
  readonly #opts: OpenAiEmbedderOptions;
  readonly #fetch: typeof fetch;

  constructor(opts: OpenAiEmbedderOptions) {
    if (!Number.isInteger(opts.dimensions) || opts.dimensions < 1)
      throw new FleetError('invalid_config', 'OpenAiEmbedder needs a positive whole number of dimensions');
    this.dimensions = opts.dimensions;
    this.#opts = opts;
    this.#fetch = opts.fetch ?? fetch;
  }

  async embed(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return [];
    const url = `${this.#opts.baseUrl.replace(/\/+$/, '')}/embeddings`;
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.#opts.apiKey ? { authorization: `Bearer ${this.#opts.apiKey}` } : {}),
        },
        body: JSON.stringify({
          model: this.#opts.model,
          input: texts,
          encoding_format: 'float',
          ...(this.#opts.sendDimensions ? { dimensions: this.dimensions } : {}),
        }),
        signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new FleetError(timedOut ? 'timeout' : 'unavailable', `embeddings request to ${url} failed`, {
        cause: err,
        retryable: true,
      });
    }
    if (!res.ok) {
      const body = await res.text().catch(() => '');
      throw new FleetError(
        'upstream_error',
        `embeddings server answered ${res.status}: ${body.slice(0, 300)}`,
        {
          retryable: isRetryableStatus(res.status),
          details: { status: res.status },
        },
      );
    }
    const json = (await res.json()) as EmbeddingsResponse;
    const out = new Array<number[]>(texts.length);
    for (const d of json.data ?? []) out[d.index] = d.embedding;
    for (let i = 0; i < texts.length; i++)
      if (!Array.isArray(out[i]) || out[i]!.length !== this.dimensions)
        throw new FleetError(
          'upstream_error',
          `embeddings server returned no vector of ${this.dimensions} dimensions for input ${i}`,
          { retryable: false },
        );
    return out;
  }
}
