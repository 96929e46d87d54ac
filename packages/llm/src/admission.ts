import { FleetError, type Logger } from '@agent-fleet/core';
import type OpenAI from 'openai';
import type { BreakerState, CircuitBreaker } from './breaker.ts';
import type { PoolMetrics } from './pool-metrics.ts';
import type { Router, ServerView } from './router.ts';
import type { ServerHealth } from './server-monitor.ts';
import {
  type PoolCall,
  type PoolHealth,
  type PoolWaitEvent,
  type PriorityClass,
  VLLM_PRIORITY,
} from './types.ts';
import { type Waiter, WaitQueue } from './wait-queue.ts';

/** One OpenAI-compatible server of a pool, with the pool's bookkeeping of it. */
export interface UpstreamServer {
  index: number;
  url: string;
  client: OpenAI;
  inFlight: number;
  maxInFlight: number;
  breaker: CircuitBreaker;
  health: ServerHealth;
}

/**
 * What an attempt says about its server: `ok` closes its circuit, `server-fault` counts towards
 * opening it, `no-verdict` (the caller cancelled, or the request itself was refused) neither.
 */
export type AttemptOutcome = 'ok' | 'server-fault' | 'no-verdict';

/** A slot on one server, held for one attempt; release it exactly once. */
export interface Lease {
  server: UpstreamServer;
  release(outcome: AttemptOutcome): void;
}

export interface AdmissionOptions {
  servers: UpstreamServer[];
  router: Router;
  /** Longest a request may wait for a slot before it fails with `unavailable`. */
  queueTimeoutMs: number;
  /**
   * Batch requests take a server's slot only while its in-flight requests (every class) are below
   * this share of its cap and the server queues nothing itself (scraped `waiting`), so batch work
   * fills only the capacity interactive work leaves free and chat always finds slots. 0..1.
   */
  batchMaxShare: number;
  metrics: PoolMetrics;
  logger?: Logger | undefined;
}

/**
 * Admission to the pool's servers: at most `maxInFlight` requests per server, a priority queue in
 * front (interactive before batch, session affinity kept under a backlog), and the pool's health.
 * Guarantees: a request gets a slot, or fails with a reason — cancelled, queue timeout, pool closed,
 * or `unavailable` at once when every server's circuit is open (requests already queued then are
 * rejected the moment the last circuit opens, not left to their queue timeout).
 */
export class Admission {
  readonly #o: AdmissionOptions;
  readonly #servers: UpstreamServer[];
  readonly #queue = new WaitQueue();
  readonly #listeners = new Set<(health: PoolHealth) => void>();
  #lastHealthy: number;
  #closed = false;

  constructor(opts: AdmissionOptions) {
    this.#o = opts;
    this.#servers = opts.servers;
    this.#lastHealthy = this.#healthyCount();
  }

  /** A slot for attempt `attempt` of `call`; servers in `tried` are avoided while another can take it. */
  acquire(call: PoolCall, tried: ReadonlySet<number>, attempt: number): Promise<Lease> {
    if (this.#closed) return Promise.reject(new FleetError('unavailable', 'the LLM pool is closed'));
    if (call.signal?.aborted) return Promise.reject(call.signal.reason);
    if (this.#healthyCount() === 0) return Promise.reject(this.#noHealthyServer());
    return new Promise<Lease>((resolve, reject) => this.#admit(call, tried, attempt, resolve, reject));
  }

  health(): PoolHealth {
    const servers = this.#servers.map((s) => {
      const circuit = s.breaker.state;
      return {
        url: s.url,
        healthy: circuit !== 'open',
        circuit,
        healthCheckOk: s.health.healthy,
        inFlight: s.inFlight,
      };
    });
    const healthy = servers.filter((s) => s.healthy).length;
    return { healthy, total: servers.length, waiting: this.#queue.size, servers };
  }

  /**
   * Calls `listener` whenever the number of healthy servers changes (as seen after a request
   * outcome or a round of health checks); returns the unsubscribe function.
   */
  onHealthChange(listener: (health: PoolHealth) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A call that named its tenant's share (`PoolCall.fair`) used `tokens` in all: its tenant is
   * charged the difference from what the call was tagged at, so the wait queue shares slots by real
   * tokens.
   */
  charge(call: PoolCall, tokens: number): void {
    if (call.fair) this.#queue.charge(VLLM_PRIORITY[call.priority ?? 'interactive'], call.fair, tokens);
  }

  /**
   * Something changed what the servers can take (a slot freed, a circuit moved, a health check):
   * start the waiters that can start now, or reject them all when no server is healthy.
   */
  refresh(): void {
    for (const s of this.#servers) {
      this.#o.metrics.breaker.set({ server: s.url }, stateValue(s.breaker.state));
    }
    this.#afterChange();
  }

  #afterChange(): void {
    if (this.#healthyCount() === 0) {
      const err = this.#noHealthyServer();
      for (const w of this.#queue.drain()) w.fail(err);
    } else {
      this.#queue.pump();
    }
    this.#o.metrics.waiting.set(this.#queue.size);
    this.#publishHealth();
  }

  /** Rejects every waiter and every later request. */
  close(): void {
    this.#closed = true;
    const err = new FleetError('unavailable', 'the LLM pool is closed');
    for (const w of this.#queue.drain()) w.fail(err);
  }

  #admit(
    call: PoolCall,
    tried: ReadonlySet<number>,
    attempt: number,
    resolve: (lease: Lease) => void,
    reject: (err: unknown) => void,
  ): void {
    const priority = call.priority ?? 'interactive';
    const enqueuedAt = performance.now();
    let queued = false;
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      if (timer) clearTimeout(timer);
      call.signal?.removeEventListener('abort', onAbort);
      this.#o.metrics.waiting.set(this.#queue.size);
    };
    const waiter: Waiter = {
      priority: VLLM_PRIORITY[priority],
      ...(call.fair ? { fair: call.fair } : {}),
      tryStart: (homeOnly) => {
        const index = homeOnly
          ? this.#home(call.userId, priority, tried)
          : this.#pick(call.userId, priority, tried);
        if (index < 0) return false;
        this.#o.router.served(call.userId, index);
        const server = this.#take(index);
        const waitedMs = performance.now() - enqueuedAt;
        this.#o.metrics.queueWait.observe({ priority }, waitedMs / 1000);
        done();
        if (queued)
          tellWaiting(call, { type: 'admitted', attempt, waitedMs, server: server.url }, this.#o.logger);
        resolve({ server, release: (outcome) => this.#release(server, outcome) });
        return true;
      },
      fail: (err) => {
        done();
        reject(err);
      },
    };
    const onAbort = () => {
      if (this.#queue.remove(waiter)) waiter.fail(call.signal?.reason);
    };
    if (waiter.tryStart(false)) {
      this.#queue.passed(waiter);
      return;
    }
    queued = true;
    this.#queue.push(waiter);
    this.#o.metrics.waiting.set(this.#queue.size);
    call.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => {
      if (!this.#queue.remove(waiter)) return;
      const ms = this.#o.queueTimeoutMs;
      waiter.fail(
        new FleetError('unavailable', `no LLM server had a free slot within ${ms} ms`, { retryable: true }),
      );
    }, this.#o.queueTimeoutMs);
    tellWaiting(call, { type: 'queued', attempt, waiting: this.#queue.size }, this.#o.logger);
  }

  #take(index: number): UpstreamServer {
    const server = this.#servers[index]!;
    server.inFlight++;
    server.breaker.onRequest();
    this.#o.metrics.inFlight.set({ server: server.url }, server.inFlight);
    return server;
  }

  #release(server: UpstreamServer, outcome: AttemptOutcome): void {
    server.inFlight--;
    if (outcome === 'ok') server.breaker.onSuccess();
    else if (outcome === 'server-fault') server.breaker.onFailure();
    else server.breaker.onNoVerdict();
    this.#o.metrics.inFlight.set({ server: server.url }, server.inFlight);
    this.#o.metrics.breaker.set({ server: server.url }, stateValue(server.breaker.state));
    this.#afterChange();
  }

  #healthyCount(): number {
    let n = 0;
    for (const s of this.#servers) if (s.breaker.state !== 'open') n++;
    return n;
  }

  #publishHealth(): void {
    const healthy = this.#healthyCount();
    if (healthy === this.#lastHealthy) return;
    this.#lastHealthy = healthy;
    const health = this.health();
    if (healthy === 0) this.#o.logger?.warn({ servers: health.total }, 'no LLM server is healthy');
    else this.#o.logger?.info({ healthy, servers: health.total }, 'LLM servers healthy');
    for (const listener of this.#listeners) {
      try {
        listener(health);
      } catch (err) {
        this.#o.logger?.warn({ err: (err as Error).message }, 'LLM health listener failed');
      }
    }
  }

  #noHealthyServer(): FleetError {
    const n = this.#servers.length;
    const retryAfterMs = Math.min(...this.#servers.map((s) => s.breaker.msUntilProbe()));
    return new FleetError(
      'unavailable',
      `no LLM server is healthy: the circuits of all ${n} servers are open; the next probe is possible in ${retryAfterMs} ms`,
      { retryable: true, details: { reason: 'no_healthy_llm_server', servers: n, retryAfterMs } },
    );
  }

  #views(priority: PriorityClass, tried: ReadonlySet<number>, avoid: boolean): ServerView[] {
    return this.#servers.map((s) => ({
      index: s.index,
      inFlight: s.inFlight,
      maxInFlight: s.maxInFlight,
      available:
        s.breaker.canRequest() &&
        !(avoid && tried.has(s.index)) &&
        (priority !== 'batch' || this.#leftForBatch(s)),
      waiting: s.health.waiting,
      kvUsage: s.health.kvUsage,
    }));
  }

  /**
   * Whether a batch request may take a slot on `s` now: below the batch share (one slot at least,
   * so a server with a cap of 1 still serves batch work when idle), nothing queued at the server.
   */
  #leftForBatch(s: UpstreamServer): boolean {
    const share = Math.max(1, Math.floor(s.maxInFlight * this.#o.batchMaxShare));
    return s.inFlight < share && s.health.waiting === 0;
  }

  /** The user's home server when it can take the request now; never on a retry (it failed there). */
  #home(userId: string, priority: PriorityClass, tried: ReadonlySet<number>): number {
    return tried.size > 0 ? -1 : this.#o.router.home(userId, this.#views(priority, tried, false));
  }

  /** A server that has not failed this request yet, else any server that can take it. */
  #pick(userId: string, priority: PriorityClass, tried: ReadonlySet<number>): number {
    const fresh = this.#o.router.pick(userId, this.#views(priority, tried, true));
    if (fresh >= 0 || tried.size === 0) return fresh;
    return this.#o.router.pick(userId, this.#views(priority, tried, false));
  }
}

/** Tells a call's `onWait` observer; an observer that throws is logged, never allowed to break the pool. */
export function tellWaiting(call: PoolCall, event: PoolWaitEvent, logger: Logger | undefined): void {
  if (!call.onWait) return;
  try {
    call.onWait(event);
  } catch (err) {
    logger?.warn({ err: (err as Error).message, event: event.type }, 'onWait observer threw');
  }
}

export function stateValue(state: BreakerState): number {
  return state === 'closed' ? 0 : state === 'half-open' ? 1 : 2;
}
