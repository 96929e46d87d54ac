import type { EngineConfig } from './config.ts';
import { extendBlockHashes, KvCache } from './kv-cache.ts';
import { compareSequences, type FinishReason, type Sequence } from './sequence.ts';

/** Tokens of one sequence computed in a step. */
export interface ScheduledChunk {
  seq: Sequence;
  tokens: number;
  /** A decode step (one token, the last one sampled) rather than a prefill chunk. */
  decode: boolean;
}

/** What one engine step computes, decided at its start. */
export interface StepPlan {
  chunks: ScheduledChunk[];
  /** Prefill tokens in the step (new prompts, continued chunks, recomputation after preemption). */
  prefillTokens: number;
  /** Sequences decoding one token in the step. */
  decodeSeqs: number;
  /** Running sequences sent back to the waiting queue to free KV blocks. */
  preempted: Sequence[];
  /** Waiting sequences that joined the running batch. */
  admitted: Sequence[];
}

/** A token sampled at the end of a step. */
export interface EmittedToken {
  seq: Sequence;
  token: number;
  /** 0 for the first output token. */
  index: number;
}

export interface StepOutcome {
  emitted: EmittedToken[];
  finished: Sequence[];
}

/**
 * vLLM's V1 scheduler, reduced to what shapes latency: continuous batching with priority policy.
 * Each step first gives running sequences their next tokens (best priority first; a decode is one
 * token, an unfinished prefill continues in chunks), then admits waiting sequences in (priority,
 * arrival) order while the batch has room, the step has token budget and the KV cache has blocks;
 * the waiting head blocks those behind it, so order within a priority is strict FIFO. A prompt's
 * blocks are allocated at admission; full blocks found in the prefix cache are reused and skip
 * prefill. When a running sequence needs a new block and none is free, the lowest-priority, most
 * recently arrived running sequence is preempted (blocks freed, recomputed later); no new sequence
 * is admitted in a step that preempted.
 */
export class Scheduler {
  readonly config: EngineConfig;
  readonly kv: KvCache;
  readonly #running: Sequence[] = [];
  /** Sorted by {@link compareSequences}. */
  readonly #waiting: Sequence[] = [];
  #preemptions = 0;
  #prefixQueries = 0;
  #prefixHits = 0;

  constructor(config: EngineConfig) {
    this.config = config;
    this.kv = new KvCache(Math.floor(config.kvCacheTokens / config.blockSize));
  }

  get running(): readonly Sequence[] {
    return this.#running;
  }

  get waiting(): readonly Sequence[] {
    return this.#waiting;
  }

  /** Cumulative counters since construction. */
  get counters(): { preemptions: number; prefixCacheQueries: number; prefixCacheHits: number } {
    return {
      preemptions: this.#preemptions,
      prefixCacheQueries: this.#prefixQueries,
      prefixCacheHits: this.#prefixHits,
    };
  }

  hasWork(): boolean {
    return this.#running.length > 0 || this.#waiting.length > 0;
  }

  /** Queues a new sequence. It must fit `maxModelLen` (the engine checks before calling). */
  add(seq: Sequence): void {
    this.#insertWaiting(seq);
  }

  /** Removes a sequence wherever it is and frees its blocks; false when it had already finished. */
  abort(seq: Sequence): boolean {
    if (seq.status === 'finished') return false;
    if (seq.status === 'waiting') {
      const i = this.#waiting.indexOf(seq);
      if (i >= 0) this.#waiting.splice(i, 1);
    } else {
      this.#removeRunning(seq);
      this.#freeBlocks(seq);
    }
    seq.status = 'finished';
    seq.finishReason = 'abort';
    return true;
  }

  /** Decides the next step at time `now`: which tokens of which sequences it computes. */
  schedule(now: number): StepPlan {
    const { blockSize, maxNumSeqs } = this.config;
    let budget = this.config.maxBatchedTokens;
    const plan: StepPlan = { chunks: [], prefillTokens: 0, decodeSeqs: 0, preempted: [], admitted: [] };
    const running = this.#running;
    running.sort(compareSequences);

    for (let i = 0; i < running.length && budget > 0; i++) {
      const seq = running[i]!;
      const tokens = Math.min(seq.tokens.length - seq.computed, budget);
      if (tokens <= 0) continue;
      const needed = Math.ceil((seq.computed + tokens) / blockSize) - seq.blocks.length;
      let selfPreempted = false;
      while (needed > 0 && !this.kv.canAllocate(needed)) {
        const victim = running.pop()!;
        this.#preempt(victim);
        plan.preempted.push(victim);
        if (victim === seq) {
          selfPreempted = true;
          break;
        }
      }
      if (selfPreempted) break;
      if (needed > 0) seq.blocks.push(...this.kv.allocate(needed));
      this.#addChunk(plan, seq, tokens);
      budget -= tokens;
    }

    if (plan.preempted.length > 0) return plan;

    while (this.#waiting.length > 0 && running.length < maxNumSeqs && budget > 0) {
      const seq = this.#waiting[0]!;
      const length = seq.tokens.length;
      let hit: number[] = [];
      if (this.config.enablePrefixCaching) {
        extendBlockHashes(seq.blockHashes, seq.tokens, blockSize, seq.cacheSalt);
        // At least one token is always computed, so the last token never counts as a hit (as in vLLM).
        hit = this.kv.lookup(seq.blockHashes.slice(0, Math.floor((length - 1) / blockSize)));
      }
      const newBlocks = Math.ceil(length / blockSize) - hit.length;
      if (!this.kv.canAllocate(newBlocks, hit)) break;
      this.#waiting.shift();
      this.kv.acquire(hit);
      seq.blocks = [...hit, ...this.kv.allocate(newBlocks)];
      seq.registeredBlocks = hit.length;
      seq.computed = hit.length * blockSize;
      seq.cachedTokens ??= seq.computed;
      seq.firstScheduledAt ??= now;
      seq.status = 'running';
      running.push(seq);
      this.#prefixQueries += length;
      this.#prefixHits += seq.computed;
      plan.admitted.push(seq);
      const tokens = Math.min(length - seq.computed, budget);
      this.#addChunk(plan, seq, tokens);
      budget -= tokens;
    }
    return plan;
  }

  /** Applies a finished step: marks tokens computed, caches full blocks, samples and finishes sequences. */
  complete(plan: StepPlan): StepOutcome {
    const { blockSize, enablePrefixCaching } = this.config;
    const outcome: StepOutcome = { emitted: [], finished: [] };
    for (const { seq, tokens } of plan.chunks) {
      if (seq.status !== 'running') continue; // aborted while the step ran
      seq.computed += tokens;
      if (enablePrefixCaching) {
        const full = Math.floor(seq.computed / blockSize);
        if (full > seq.registeredBlocks) {
          extendBlockHashes(seq.blockHashes, seq.tokens, blockSize, seq.cacheSalt);
          for (let b = seq.registeredBlocks; b < full; b++)
            this.kv.register(seq.blocks[b]!, seq.blockHashes[b]!);
          seq.registeredBlocks = full;
        }
      }
      if (seq.computed < seq.tokens.length) continue;
      if (seq.generated < seq.targetOutput) {
        const token = seq.outputTokens[seq.generated]!;
        seq.tokens.push(token);
        outcome.emitted.push({ seq, token, index: seq.generated });
        seq.generated++;
      }
      if (seq.generated >= seq.targetOutput) {
        this.#finish(seq, seq.targetOutput < seq.outputTokens.length ? 'length' : 'stop');
        outcome.finished.push(seq);
      }
    }
    return outcome;
  }

  #addChunk(plan: StepPlan, seq: Sequence, tokens: number): void {
    const decode = seq.decoding;
    plan.chunks.push({ seq, tokens, decode });
    if (decode) plan.decodeSeqs++;
    else plan.prefillTokens += tokens;
  }

  #finish(seq: Sequence, reason: FinishReason): void {
    this.#removeRunning(seq);
    this.#freeBlocks(seq);
    seq.status = 'finished';
    seq.finishReason = reason;
  }

  #preempt(seq: Sequence): void {
    this.#freeBlocks(seq);
    seq.computed = 0;
    seq.status = 'waiting';
    seq.preemptions++;
    this.#preemptions++;
    this.#insertWaiting(seq);
  }

  #freeBlocks(seq: Sequence): void {
    this.kv.release(seq.blocks);
    seq.blocks = [];
    seq.registeredBlocks = 0;
  }

  #removeRunning(seq: Sequence): void {
    const i = this.#running.indexOf(seq);
    if (i >= 0) this.#running.splice(i, 1);
  }

  #insertWaiting(seq: Sequence): void {
    const q = this.#waiting;
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareSequences(q[mid]!, seq) <= 0) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, seq);
  }
}
