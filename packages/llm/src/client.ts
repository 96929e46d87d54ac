import { type ChatMessage, FleetError, isRetryableStatus } from '@agent-fleet/core';
import OpenAI from 'openai';
import { createHttpFetch } from './http-fetch.ts';

export interface ChatRequest {
  messages: ChatMessage[];
  /** Sent as the OpenAI `user` field and the `x-user-id` header, for routers and fault rules. */
  userId: string;
  maxTokens?: number;
  signal?: AbortSignal;
}

export interface ChatResult {
  content: string;
  promptTokens: number;
  completionTokens: number;
  server: string;
}

export interface LlmClientOptions {
  baseUrls: string[];
  apiKey: string;
  model: string;
  timeoutMs: number;
  maxRetries: number;
  fetch?: typeof fetch;
}

/**
 * Chat completions against OpenAI-compatible servers through the official `openai` package, which
 * retries 408/409/429/5xx and network errors with backoff. Servers are used in turn.
 */
export class LlmClient {
  readonly #clients: { url: string; client: OpenAI }[];
  readonly #model: string;
  #next = 0;

  constructor(opts: LlmClientOptions) {
    if (opts.baseUrls.length === 0)
      throw new FleetError('invalid_config', 'LlmClient needs at least one base URL');
    this.#model = opts.model;
    const fetchImpl = opts.fetch ?? createHttpFetch();
    this.#clients = opts.baseUrls.map((url) => ({
      url,
      client: new OpenAI({
        baseURL: url,
        apiKey: opts.apiKey,
        timeout: opts.timeoutMs,
        maxRetries: opts.maxRetries,
        fetch: fetchImpl,
      }),
    }));
  }

  async chat(req: ChatRequest): Promise<ChatResult> {
    const target = this.#clients[this.#next++ % this.#clients.length]!;
    try {
      const res = await target.client.chat.completions.create(
        {
          model: this.#model,
          messages: req.messages,
          user: req.userId,
          ...(req.maxTokens ? { max_tokens: req.maxTokens } : {}),
        },
        { headers: { 'x-user-id': req.userId }, ...(req.signal ? { signal: req.signal } : {}) },
      );
      const content = res.choices[0]?.message?.content;
      if (typeof content !== 'string') {
        throw new FleetError('upstream_error', `LLM server ${target.url} returned no message content`);
      }
      return {
        content,
        promptTokens: res.usage?.prompt_tokens ?? 0,
        completionTokens: res.usage?.completion_tokens ?? 0,
        server: target.url,
      };
    } catch (err) {
      if (err instanceof FleetError) throw err;
      if (err instanceof OpenAI.APIUserAbortError) throw err;
      const status = err instanceof OpenAI.APIError ? err.status : undefined;
      throw new FleetError(
        err instanceof OpenAI.APIConnectionTimeoutError ? 'timeout' : 'upstream_error',
        `LLM call to ${target.url} failed${status ? ` with HTTP ${status}` : ''}: ${(err as Error).message}`,
        { cause: err, retryable: isRetryableStatus(status) },
      );
    }
  }
}
