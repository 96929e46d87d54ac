import type OpenAI from 'openai';

/** Interactive turns go before batch work, in the pool's queue and at the servers (vLLM `priority`). */
export type PriorityClass = 'interactive' | 'batch';
export const VLLM_PRIORITY: Record<PriorityClass, number> = { interactive: 0, batch: 10 };

/** A message as the OpenAI chat API takes it (system, user, assistant with tool calls, tool results). */
export type PoolMessage = OpenAI.ChatCompletionMessageParam;

/** A tool the model may call, as the OpenAI chat API describes it. */
export type ToolSpec = OpenAI.ChatCompletionFunctionTool;

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model wrote them: JSON text, not validated. */
  arguments: string;
}

/**
 * What a request is waiting on, told to its `onWait` observer as it happens: it lets a turn tell
 * its watchers that it waits on the model rather than looking stuck.
 * - `queued`: no server had a free slot; the request waits in the pool's queue (`waiting` requests
 *   are queued now, this one included) until a slot frees, the queue timeout passes, or no server
 *   is healthy any more (then it fails with `unavailable`).
 * - `admitted`: a queued request got its slot after `waitedMs`.
 * - `retrying`: attempt `attempt` failed with a retryable error (`reason`); the next one starts in
 *   `delayMs`, on another server when one can take it.
 */
export type PoolWaitEvent =
  | { type: 'queued'; attempt: number; waiting: number }
  | { type: 'admitted'; attempt: number; waitedMs: number; server: string }
  | { type: 'retrying'; attempt: number; delayMs: number; reason: string };

/** What routing, admission and priority need of every pool call, whatever it asks the server. */
export interface PoolCall {
  /** Routing key (session affinity), the OpenAI `user` field and the `x-user-id` header. */
  userId: string;
  /** Defaults to `interactive`. */
  priority?: PriorityClass;
  /** Aborts the call at once, also while it waits for a slot or between attempts. */
  signal?: AbortSignal;
  /** Told when the call waits on the model (see {@link PoolWaitEvent}); must not throw. */
  onWait?: (event: PoolWaitEvent) => void;
  /**
   * The tenant the call counts under, its weight and the call's estimated tokens: while calls wait
   * for a slot, tenants share the freed slots by weight, in tokens (see `WaitQueue`).
   */
  fair?: { tenant: string; weight: number; cost: number };
}

export interface PoolChatRequest extends PoolCall {
  messages: PoolMessage[];
  tools?: ToolSpec[];
  toolChoice?: OpenAI.ChatCompletionToolChoiceOption;
  responseFormat?: OpenAI.ChatCompletionCreateParams['response_format'];
  /** Prompts of one tenant share a `cache_salt`, so tenants cannot probe each other's cache. */
  tenant?: string;
  /** Overrides the pool's model for this request (a per-agent setting). */
  model?: string;
  maxTokens?: number;
  temperature?: number;
}

export interface PoolEmbedRequest extends PoolCall {
  /** The texts to embed; the answer has one vector per text, in this order. */
  input: string[];
  /** Overrides the pool's model (embeddings often come from a model of their own). */
  model?: string;
  /** Ask the server to shorten vectors to this size (OpenAI text-embedding-3 models). */
  dimensions?: number;
}

export interface PoolChatResult {
  /** The model that answered (the request's, else the pool's). */
  model: string;
  /** The text of the answer ('' when the model only called tools). */
  content: string;
  toolCalls: ToolCall[];
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  server: string;
  attempts: number;
}

/** An embeddings answer: one vector per input, in input order, and the tokens the server reported. */
export interface PoolEmbedResult {
  vectors: number[][];
  /** `usage.prompt_tokens` as the server reported it for the whole request. */
  promptTokens: number;
  model: string;
  server: string;
}

export type PoolStreamEvent =
  | { type: 'delta'; content: string }
  /** The server failed mid-stream; the answer starts again on another server: drop what came so far. */
  | { type: 'restart'; reason: string }
  | { type: 'done'; result: PoolChatResult };

/** One server as the pool sees it now. */
export interface ServerStatus {
  url: string;
  /** Its circuit is not open: it takes requests, or one probe when half-open. */
  healthy: boolean;
  circuit: 'closed' | 'open' | 'half-open';
  /** The last health check answered (true until the first check). */
  healthCheckOk: boolean;
  inFlight: number;
}

/** The pool's health: `healthy === 0` means every call fails fast with `unavailable`. */
export interface PoolHealth {
  /** Servers whose circuit is not open. */
  healthy: number;
  total: number;
  /** Requests queued for a slot. */
  waiting: number;
  servers: ServerStatus[];
}
