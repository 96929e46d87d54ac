import { FleetError, isRetryableStatus, type Logger } from '@agent-fleet/core';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import { CircuitBreaker } from './breaker.ts';
import { HashRing } from './hash-ring.ts';
import { createHttpFetch } from './http-fetch.ts';
import { createPoolMetrics, type PoolMetrics } from './pool-metrics.ts';
import { Router, type RoutingStrategy, type ServerView } from './router.ts';
import { checkServer, type ServerHealth } from './server-monitor.ts';
import { type Waiter, WaitQueue } from './wait-queue.ts';

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

export interface PoolChatRequest {
  messages: PoolMessage[];
  tools?: ToolSpec[];
  toolChoice?: OpenAI.ChatCompletionToolChoiceOption;
  responseFormat?: OpenAI.ChatCompletionCreateParams['response_format'];
  /** Routing key (session affinity), the OpenAI `user` field and the `x-user-id` header. */
  userId: string;
  /** Prompts of one tenant share a `cache_salt`, so tenants cannot probe each other's cache. */
  tenant?: string;
  priority?: PriorityClass;
  /** Overrides the pool's model for this request (a per-agent setting). */
  model?: string;
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
}

export interface PoolChatResult {
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

export type PoolStreamEvent =
  | { type: 'delta'; content: string }
  /** The server failed mid-stream; the answer starts again on another server: drop what came so far. */
  | { type: 'restart'; reason: string }
  | { type: 'done'; result: PoolChatResult };

export interface LlmPoolOptions {
  servers: (string | { url: string; maxInFlight?: number })[];
  apiKey: string;
  model: string;
  routing?: RoutingStrategy;
  /** In-flight cap per server, matched to its batch size (vLLM max_num_seqs). */
  maxInFlightPerServer?: number;
  /** Per attempt. */
  requestTimeoutMs?: number;
  /** Longest a request may wait for a slot before it fails with `unavailable`. */
  queueTimeoutMs?: number;
  /** Attempts per request, across servers. */
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  breakerFailureThreshold?: number;
  breakerCooldownMs?: number;
  /** Health check and /metrics scrape period; 0 turns it off. */
  healthIntervalMs?: number;
  loadFactor?: number;
  hotWaiting?: number;
  hotKvUsage?: number;
  fetch?: typeof fetch;
  registry?: Registry;
  logger?: Logger;
}

interface Server {
  index: number;
  url: string;
  client: OpenAI;
  inFlight: number;
  maxInFlight: number;
  breaker: CircuitBreaker;
  health: ServerHealth;
}

interface Lease {
  server: Server;
  release: (ok: boolean) => void;
}

/**
 * The pool every worker sends its prompts through: routes across OpenAI-compatible servers
 * (session affinity with bounded loads, least-loaded or round-robin), admits at most
 * `maxInFlight` requests per server with a priority queue in front, retries 429/5xx/network
 * errors on another server with jittered backoff (never other 4xx), opens a circuit on a failing
 * server, and accounts tokens. Every request ends: with a result, or an error saying why.
 */
export class LlmPool {
  readonly metrics: PoolMetrics;
  readonly registry: Registry;
  readonly #servers: Server[];
  readonly #router: Router;
  readonly #queue = new WaitQueue();
  readonly #o: Required<Omit<LlmPoolOptions, 'servers' | 'fetch' | 'registry' | 'logger'>>;
  readonly #fetch: typeof fetch;
  readonly #logger: Logger | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: LlmPoolOptions) {
    if (opts.servers.length === 0)
      throw new FleetError('invalid_config', 'the LLM pool needs at least one server');
    this.#o = {
      apiKey: opts.apiKey,
      model: opts.model,
      routing: opts.routing ?? 'session',
      maxInFlightPerServer: opts.maxInFlightPerServer ?? 64,
      requestTimeoutMs: opts.requestTimeoutMs ?? 120_000,
      queueTimeoutMs: opts.queueTimeoutMs ?? 120_000,
      maxAttempts: opts.maxAttempts ?? 3,
      backoffBaseMs: opts.backoffBaseMs ?? 100,
      backoffMaxMs: opts.backoffMaxMs ?? 2000,
      breakerFailureThreshold: opts.breakerFailureThreshold ?? 5,
      breakerCooldownMs: opts.breakerCooldownMs ?? 5000,
      healthIntervalMs: opts.healthIntervalMs ?? 2000,
      loadFactor: opts.loadFactor ?? 0.25,
      hotWaiting: opts.hotWaiting ?? 8,
      hotKvUsage: opts.hotKvUsage ?? 0.9,
    };
    this.#fetch = opts.fetch ?? createHttpFetch();
    this.#logger = opts.logger;
    this.registry = opts.registry ?? new Registry();
    this.metrics = createPoolMetrics(this.registry);
    this.#servers = opts.servers.map((s, index) => {
      const url = typeof s === 'string' ? s : s.url;
      return {
        index,
        url,
        client: new OpenAI({
          baseURL: url,
          apiKey: this.#o.apiKey,
          maxRetries: 0,
          timeout: this.#o.requestTimeoutMs,
          fetch: this.#fetch,
        }),
        inFlight: 0,
        maxInFlight: (typeof s === 'string' ? undefined : s.maxInFlight) ?? this.#o.maxInFlightPerServer,
        breaker: new CircuitBreaker({
          failureThreshold: this.#o.breakerFailureThreshold,
          cooldownMs: this.#o.breakerCooldownMs,
        }),
        health: { healthy: true, running: 0, waiting: 0, kvUsage: 0, checkedAt: 0 },
      };
    });
    this.#router = new Router({
      strategy: this.#o.routing,
      ring: new HashRing(this.#servers.map((s) => s.url)),
      loadFactor: this.#o.loadFactor,
      hotWaiting: this.#o.hotWaiting,
      hotKvUsage: this.#o.hotKvUsage,
    });
    if (this.#o.healthIntervalMs > 0) {
      this.#healthTimer = setInterval(() => void this.checkHealth(), this.#o.healthIntervalMs);
      this.#healthTimer.unref();
    }
  }

  get servers(): readonly string[] {
    return this.#servers.map((s) => s.url);
  }

  /** Health-check and scrape every server now. */
  async checkHealth(): Promise<void> {
    await Promise.all(
      this.#servers.map(async (s) => {
        const h = await checkServer(s.url, this.#fetch, Math.min(2000, this.#o.requestTimeoutMs));
        if (!h.healthy && s.health.healthy)
          this.#logger?.warn({ server: s.url }, 'LLM server failed its health check');
        if (!h.healthy) s.breaker.trip();
        s.health = h;
        this.metrics.serverWaiting.set({ server: s.url }, h.waiting);
        this.metrics.serverKvUsage.set({ server: s.url }, h.kvUsage);
        this.metrics.breaker.set({ server: s.url }, stateValue(s.breaker.state));
      }),
    );
    this.#queue.pump();
  }

  async chat(req: PoolChatRequest): Promise<PoolChatResult> {
    return this.#withRetries(req, async (server, attempt) => {
      const res = await server.client.chat.completions.create(this.#body(req, false) as never, {
        headers: { 'x-user-id': req.userId },
        signal: this.#attemptSignal(req.signal),
      });
      return this.#result(server, res as OpenAI.ChatCompletion, attempt);
    });
  }

  /**
   * Run `call` on a server the router picks, again on another one (with jittered backoff) while
   * the failure is retryable and attempts are left; the last error otherwise.
   */
  async #withRetries<T>(
    req: PoolChatRequest,
    call: (server: Server, attempt: number) => Promise<T>,
  ): Promise<T> {
    let last: unknown;
    const tried = new Set<number>();
    let attempt = 0;
    while (++attempt <= this.#o.maxAttempts) {
      const lease = await this.#acquire(req, tried);
      const started = performance.now();
      try {
        const out = await call(lease.server, attempt);
        this.#finish(lease, true, started);
        return out;
      } catch (err) {
        last = err;
        const retryable = this.#onError(lease, err, started, req.signal);
        tried.add(lease.server.index);
        if (!retryable || attempt === this.#o.maxAttempts) break;
        await sleep(backoff(attempt, this.#o.backoffBaseMs, this.#o.backoffMaxMs), req.signal);
      }
    }
    throw toFleetError(last, Math.min(attempt, this.#o.maxAttempts));
  }

  /** Stream a chat answer; on a server failing mid-stream it yields `restart` and goes on elsewhere. */
  async *chatStream(req: PoolChatRequest): AsyncGenerator<PoolStreamEvent> {
    let last: unknown;
    const tried = new Set<number>();
    let attempt = 0;
    while (++attempt <= this.#o.maxAttempts) {
      const lease = await this.#acquire(req, tried);
      const started = performance.now();
      let delivered = false;
      try {
        const stream = (await lease.server.client.chat.completions.create(this.#body(req, true) as never, {
          headers: { 'x-user-id': req.userId },
          signal: this.#attemptSignal(req.signal),
        })) as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>;
        let content = '';
        let usage: OpenAI.CompletionUsage | undefined;
        let finishReason: string | undefined;
        const calls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] = [];
        for await (const chunk of stream) {
          const choice = chunk.choices[0];
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          for (const tc of choice?.delta?.tool_calls ?? []) {
            const call = calls[tc.index] ?? {
              id: '',
              type: 'function',
              function: { name: '', arguments: '' },
            };
            calls[tc.index] = call;
            if (tc.id) call.id = tc.id;
            if (tc.function?.name) call.function.name += tc.function.name;
            if (tc.function?.arguments) call.function.arguments += tc.function.arguments;
          }
          const delta = chunk.choices[0]?.delta?.content;
          if (delta) {
            if (!delivered)
              this.metrics.ttft.observe({ server: lease.server.url }, (performance.now() - started) / 1000);
            delivered = true;
            content += delta;
            yield { type: 'delta', content: delta };
          }
          if (chunk.usage) usage = chunk.usage;
        }
        // A connection that closes before a finish_reason is a cut answer, not a short one.
        if (!finishReason) {
          throw new FleetError(
            'upstream_error',
            `stream from ${lease.server.url} ended before the answer did`,
          );
        }
        const message = { content, ...(calls.length ? { tool_calls: calls.filter(Boolean) } : {}) };
        const result = this.#result(
          lease.server,
          { choices: [{ message, finish_reason: finishReason }], usage } as unknown as OpenAI.ChatCompletion,
          attempt,
        );
        this.#finish(lease, true, started);
        yield { type: 'done', result };
        return;
      } catch (err) {
        last = err;
        const retryable = this.#onError(lease, err, started, req.signal);
        tried.add(lease.server.index);
        if (!retryable || attempt === this.#o.maxAttempts) break;
        if (delivered) yield { type: 'restart', reason: (err as Error).message };
        await sleep(backoff(attempt, this.#o.backoffBaseMs, this.#o.backoffMaxMs), req.signal);
      }
    }
    throw toFleetError(last, Math.min(attempt, this.#o.maxAttempts));
  }

  /** One embeddings request (the batcher coalesces concurrent callers into these). */
  async embed(texts: string[], opts: { userId?: string; signal?: AbortSignal } = {}): Promise<number[][]> {
    if (texts.length === 0) return [];
    const req: PoolChatRequest = { messages: [], userId: opts.userId ?? 'embeddings', priority: 'batch' };
    if (opts.signal) req.signal = opts.signal;
    return this.#withRetries(req, async (server) => {
      const res = await server.client.embeddings.create(
        { model: this.#o.model, input: texts },
        { signal: this.#attemptSignal(opts.signal) },
      );
      return [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    });
  }

  stats(): {
    servers: { url: string; inFlight: number; circuit: string; healthy: boolean }[];
    waiting: number;
  } {
    return {
      servers: this.#servers.map((s) => ({
        url: s.url,
        inFlight: s.inFlight,
        circuit: s.breaker.state,
        healthy: s.health.healthy,
      })),
      waiting: this.#queue.size,
    };
  }

  close(): void {
    this.#closed = true;
    if (this.#healthTimer) clearInterval(this.#healthTimer);
  }

  /** Wait for a slot on a server the router picks; servers tried before are avoided while others can take it. */
  #acquire(req: PoolChatRequest, tried: Set<number>): Promise<Lease> {
    if (this.#closed) return Promise.reject(new FleetError('unavailable', 'the LLM pool is closed'));
    req.signal?.throwIfAborted();
    const priority = VLLM_PRIORITY[req.priority ?? 'interactive'];
    const enqueuedAt = performance.now();
    return new Promise<Lease>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        if (this.#queue.remove(waiter)) {
          cleanup();
          reject(
            req.signal?.reason ?? new FleetError('timeout', 'cancelled while waiting for an LLM server'),
          );
        }
      };
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        this.metrics.waiting.set(this.#queue.size);
      };
      const waiter: Waiter = {
        priority,
        tryStart: (homeOnly) => {
          const index = homeOnly ? this.#home(req.userId, tried) : this.#pick(req.userId, tried);
          if (index < 0) return false;
          const server = this.#servers[index]!;
          server.inFlight++;
          server.breaker.onRequest();
          this.metrics.inFlight.set({ server: server.url }, server.inFlight);
          this.metrics.queueWait.observe(
            { priority: req.priority ?? 'interactive' },
            (performance.now() - enqueuedAt) / 1000,
          );
          cleanup();
          resolve({ server, release: (ok) => this.#release(server, ok) });
          return true;
        },
      };
      if (waiter.tryStart(false)) return;
      this.#queue.push(waiter);
      this.metrics.waiting.set(this.#queue.size);
      req.signal?.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => {
        if (this.#queue.remove(waiter)) {
          cleanup();
          reject(
            new FleetError(
              'unavailable',
              `no LLM server had a free slot within ${this.#o.queueTimeoutMs} ms`,
              {
                retryable: true,
              },
            ),
          );
        }
      }, this.#o.queueTimeoutMs);
    });
  }

  #views(tried: Set<number>, avoid: boolean): ServerView[] {
    return this.#servers.map((s) => ({
      index: s.index,
      inFlight: s.inFlight,
      maxInFlight: s.maxInFlight,
      available: s.breaker.canRequest() && !(avoid && tried.has(s.index)),
      waiting: s.health.waiting,
      kvUsage: s.health.kvUsage,
    }));
  }

  #home(userId: string, tried: Set<number>): number {
    return tried.size > 0 ? -1 : this.#router.home(userId, this.#views(tried, false));
  }

  #pick(userId: string, tried: Set<number>): number {
    const views = (avoid: boolean): ServerView[] =>
      this.#servers.map((s) => ({
        index: s.index,
        inFlight: s.inFlight,
        maxInFlight: s.maxInFlight,
        available: s.breaker.canRequest() && !(avoid && tried.has(s.index)),
        waiting: s.health.waiting,
        kvUsage: s.health.kvUsage,
      }));
    const fresh = this.#router.pick(userId, views(true));
    if (fresh >= 0 || tried.size === 0) return fresh;
    return this.#router.pick(userId, views(false));
  }

  #release(server: Server, ok: boolean): void {
    server.inFlight--;
    if (ok) server.breaker.onSuccess();
    else server.breaker.onFailure();
    this.metrics.inFlight.set({ server: server.url }, server.inFlight);
    this.metrics.breaker.set({ server: server.url }, stateValue(server.breaker.state));
    this.#queue.pump();
  }

  #finish(lease: Lease, ok: boolean, started: number): void {
    this.metrics.duration.observe({ server: lease.server.url }, (performance.now() - started) / 1000);
    this.metrics.requests.inc({ server: lease.server.url, outcome: ok ? 'ok' : 'error' });
    lease.release(ok);
  }

  /** Book a failed attempt; returns whether another attempt may help. */
  #onError(lease: Lease, err: unknown, started: number, callerSignal: AbortSignal | undefined): boolean {
    const cancelled = callerSignal?.aborted === true;
    const status = err instanceof OpenAI.APIError ? err.status : undefined;
    const retryable = !cancelled && (err instanceof FleetError ? err.isRetryable : isRetryableStatus(status));
    // A caller's cancellation or a 4xx says nothing about the server's health.
    const serverFault = !cancelled && (status === undefined || status === 429 || status >= 500);
    this.metrics.duration.observe({ server: lease.server.url }, (performance.now() - started) / 1000);
    this.metrics.requests.inc({ server: lease.server.url, outcome: retryable ? 'retry' : 'error' });
    if (serverFault) lease.release(false);
    else {
      lease.server.inFlight--;
      this.metrics.inFlight.set({ server: lease.server.url }, lease.server.inFlight);
      this.#queue.pump();
    }
    if (cancelled) throw callerSignal?.reason ?? err;
    this.#logger?.warn(
      { server: lease.server.url, status, err: (err as Error).message, retryable },
      'LLM attempt failed',
    );
    return retryable;
  }

  #attemptSignal(caller: AbortSignal | undefined): AbortSignal {
    const timeout = AbortSignal.timeout(this.#o.requestTimeoutMs);
    return caller ? AbortSignal.any([caller, timeout]) : timeout;
  }

  #body(req: PoolChatRequest, stream: boolean): Record<string, unknown> {
    return {
      model: req.model ?? this.#o.model,
      messages: req.messages,
      user: req.userId,
      priority: VLLM_PRIORITY[req.priority ?? 'interactive'],
      ...(req.tenant ? { cache_salt: `tenant:${req.tenant}` } : {}),
      ...(req.maxTokens ? { max_tokens: req.maxTokens } : {}),
      ...(req.tools?.length ? { tools: req.tools } : {}),
      ...(req.toolChoice ? { tool_choice: req.toolChoice } : {}),
      ...(req.responseFormat ? { response_format: req.responseFormat } : {}),
      ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    };
  }

  #result(server: Server, res: OpenAI.ChatCompletion, attempts: number): PoolChatResult {
    const choice = res.choices[0];
    const toolCalls: ToolCall[] = (choice?.message?.tool_calls ?? []).flatMap((c) =>
      c.type === 'function' ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [],
    );
    const content = choice?.message?.content ?? (toolCalls.length > 0 ? '' : undefined);
    if (typeof content !== 'string') {
      throw new FleetError('upstream_error', `LLM server ${server.url} returned no message content`, {
        retryable: true,
      });
    }
    const usage = res.usage as
      | (OpenAI.CompletionUsage & { prompt_tokens_details?: { cached_tokens?: number } })
      | undefined;
    const out: PoolChatResult = {
      content,
      toolCalls,
      finishReason: choice?.finish_reason ?? 'stop',
      promptTokens: usage?.prompt_tokens ?? 0,
      completionTokens: usage?.completion_tokens ?? 0,
      cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
      server: server.url,
      attempts,
    };
    this.metrics.tokens.inc({ server: server.url, kind: 'prompt' }, out.promptTokens);
    this.metrics.tokens.inc({ server: server.url, kind: 'completion' }, out.completionTokens);
    this.metrics.tokens.inc({ server: server.url, kind: 'cached' }, out.cachedTokens);
    return out;
  }
}

function stateValue(state: string): number {
  return state === 'closed' ? 0 : state === 'half-open' ? 1 : 2;
}

/** Full-jitter exponential backoff. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

function toFleetError(err: unknown, attempts: number): FleetError {
  if (err instanceof FleetError) return err;
  const status = err instanceof OpenAI.APIError ? err.status : undefined;
  return new FleetError(
    err instanceof OpenAI.APIConnectionTimeoutError ? 'timeout' : 'upstream_error',
    `LLM request failed after ${attempts} attempt(s)${status ? ` (last: HTTP ${status})` : ''}: ${(err as Error)?.message}`,
    { cause: err, retryable: isRetryableStatus(status) },
  );
}
