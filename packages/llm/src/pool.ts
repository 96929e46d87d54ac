import { FleetError, type Logger } from '@agent-fleet/core';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import { Admission, type UpstreamServer } from './admission.ts';
import { type AttemptContext, chatAttempt, embedAttempt, streamAttempt } from './attempts.ts';
import { CircuitBreaker } from './breaker.ts';
import { HashRing } from './hash-ring.ts';
import { createHttpFetch } from './http-fetch.ts';
import { createPoolMetrics, type PoolMetrics } from './pool-metrics.ts';
import { type RetryLoopDeps, resultOf, retryLoop } from './retry-loop.ts';
import { Router, type RoutingStrategy } from './router.ts';
import { type ServerHealth, ServerMonitor } from './server-monitor.ts';
import type {
  PoolChatRequest,
  PoolChatResult,
  PoolEmbedRequest,
  PoolEmbedResult,
  PoolHealth,
  PoolStreamEvent,
} from './types.ts';

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
  /**
   * Batch requests take a slot only while a server's in-flight requests are below this share of its
   * cap and it queues nothing itself; defaults to 0.75. Interactive requests may use every slot.
   */
  batchMaxShare?: number;
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

/**
 * The pool every worker sends its prompts and embeddings through: routes across OpenAI-compatible
 * servers (session affinity with bounded loads, least-loaded or round-robin), admits at most
 * `maxInFlight` requests per server with a priority queue in front, runs every call (chat, stream,
 * embeddings) through one retry loop (429/5xx/network errors on another server with jittered
 * backoff, never other 4xx), opens a circuit on a failing server, and accounts tokens. Every request
 * ends: with a result, or an error saying why. When no server is healthy (every circuit open) calls
 * fail at once with a retryable `unavailable` instead of waiting for a slot that will not come.
 */
export class LlmPool {
  readonly metrics: PoolMetrics;
  readonly registry: Registry;
  readonly #servers: UpstreamServer[];
  readonly #admission: Admission;
  readonly #monitor: ServerMonitor;
  readonly #loop: RetryLoopDeps;
  readonly #attempts: AttemptContext;
  readonly #logger: Logger | undefined;

  constructor(opts: LlmPoolOptions) {
    if (opts.servers.length === 0)
      throw new FleetError('invalid_config', 'the LLM pool needs at least one server');
    const requestTimeoutMs = opts.requestTimeoutMs ?? 120_000;
    const fetchImpl = opts.fetch ?? createHttpFetch();
    this.#logger = opts.logger;
    this.registry = opts.registry ?? new Registry();
    this.metrics = createPoolMetrics(this.registry);
    this.#servers = createServers(opts, requestTimeoutMs, fetchImpl);
    this.#admission = new Admission({
      servers: this.#servers,
      router: new Router({
        strategy: opts.routing ?? 'session',
        ring: new HashRing(this.#servers.map((s) => s.url)),
        loadFactor: opts.loadFactor ?? 0.25,
        hotWaiting: opts.hotWaiting ?? 8,
        hotKvUsage: opts.hotKvUsage ?? 0.9,
      }),
      queueTimeoutMs: opts.queueTimeoutMs ?? 120_000,
      batchMaxShare: opts.batchMaxShare ?? 0.75,
      metrics: this.metrics,
      logger: opts.logger,
    });
    this.#loop = {
      admission: this.#admission,
      policy: {
        maxAttempts: opts.maxAttempts ?? 3,
        backoffBaseMs: opts.backoffBaseMs ?? 100,
        backoffMaxMs: opts.backoffMaxMs ?? 2000,
      },
      metrics: this.metrics,
      logger: opts.logger,
    };
    this.#attempts = { model: opts.model, requestTimeoutMs, metrics: this.metrics };
    this.#monitor = new ServerMonitor({
      urls: this.#servers.map((s) => s.url),
      intervalMs: opts.healthIntervalMs ?? 2000,
      timeoutMs: Math.min(2000, requestTimeoutMs),
      fetch: fetchImpl,
      onCheck: (results) => this.#onHealthChecks(results),
    });
    void this.#monitor.start();
  }

  get servers(): readonly string[] {
    return this.#servers.map((s) => s.url);
  }

  /** Health-check and scrape every server now. */
  checkHealth(): Promise<void> {
    return this.#monitor.check();
  }

  async chat(req: PoolChatRequest): Promise<PoolChatResult> {
    const result = await resultOf(retryLoop(this.#loop, req, chatAttempt(this.#attempts, req)));
    this.#charge(req, result);
    return result;
  }

  /** Stream a chat answer; on a server failing mid-stream it yields `restart` and goes on elsewhere. */
  async *chatStream(req: PoolChatRequest): AsyncGenerator<PoolStreamEvent> {
    const result = yield* retryLoop(this.#loop, req, streamAttempt(this.#attempts, req));
    this.#charge(req, result);
    yield { type: 'done', result };
  }

  /** A call's tenant is charged what the server reported, in place of the call's estimate. */
  #charge(req: PoolChatRequest, result: PoolChatResult): void {
    this.#loop.admission.charge(req, result.promptTokens + result.completionTokens);
  }

  /**
   * One embeddings request, one vector per input in input order, with the tokens the server reported
   * for it (a batcher coalesces callers into these and shares the tokens out).
   */
  async embed(req: PoolEmbedRequest): Promise<PoolEmbedResult> {
    if (req.input.length === 0)
      return { vectors: [], promptTokens: 0, model: req.model ?? this.#attempts.model, server: '' };
    return resultOf(retryLoop(this.#loop, req, embedAttempt(this.#attempts, req)));
  }

  /**
   * Which servers take requests now. `healthy` counts servers whose circuit is not open; at 0 every
   * call fails fast with a retryable `unavailable` until a server comes back (a passed health check
   * or an ended cooldown lets one probe through).
   */
  health(): PoolHealth {
    return this.#admission.health();
  }

  /**
   * Calls `listener` whenever the number of healthy servers changes, e.g. to 0 when the last circuit
   * opens and back when a server recovers; returns the unsubscribe function.
   */
  onHealthChange(listener: (health: PoolHealth) => void): () => void {
    return this.#admission.onHealthChange(listener);
  }

  /** Stops health checks and fails every waiting and later call with `unavailable`. */
  close(): void {
    this.#monitor.close();
    this.#admission.close();
  }

  /** A failed check opens the server's circuit; a passed one lets a circuit it had opened probe again. */
  #onHealthChecks(results: readonly ServerHealth[]): void {
    for (const [i, h] of results.entries()) {
      const s = this.#servers[i]!;
      if (!h.healthy && s.health.healthy)
        this.#logger?.warn({ server: s.url }, 'LLM server failed its health check');
      if (h.healthy) s.breaker.onHealthy();
      else s.breaker.trip();
      s.health = h;
      this.metrics.serverWaiting.set({ server: s.url }, h.waiting);
      this.metrics.serverKvUsage.set({ server: s.url }, h.kvUsage);
    }
    this.#admission.refresh();
  }
}

function createServers(
  opts: LlmPoolOptions,
  requestTimeoutMs: number,
  fetchImpl: typeof fetch,
): UpstreamServer[] {
  return opts.servers.map((s, index) => {
    const url = typeof s === 'string' ? s : s.url;
    return {
      index,
      url,
      client: new OpenAI({
        baseURL: url,
        apiKey: opts.apiKey,
        maxRetries: 0,
        timeout: requestTimeoutMs,
        fetch: fetchImpl,
      }),
      inFlight: 0,
      maxInFlight: (typeof s === 'string' ? undefined : s.maxInFlight) ?? opts.maxInFlightPerServer ?? 64,
      breaker: new CircuitBreaker({
        failureThreshold: opts.breakerFailureThreshold ?? 5,
        cooldownMs: opts.breakerCooldownMs ?? 5000,
      }),
      health: { healthy: true, running: 0, waiting: 0, kvUsage: 0, checkedAt: 0 },
    };
  });
}
