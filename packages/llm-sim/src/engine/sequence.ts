/** Why a sequence stopped, with vLLM's `finished_reason` values. */
export type FinishReason = 'stop' | 'length' | 'abort';

/** What the engine needs to run one request. */
export interface SequenceSpec {
  /** Prompt token ids (at least one). */
  promptTokens: readonly number[];
  /** The reply the model "will" produce, as token ids; the engine emits them one per decode step. */
  outputTokens: readonly number[];
  /** Stop after this many output tokens (finish reason `length` when the reply is longer). */
  maxTokens: number;
  /** Lower runs first (vLLM `priority`, default 0). */
  priority?: number;
  /** Seeds the prefix-cache hash chain; requests with different salts never share blocks. */
  cacheSalt?: string;
}

export type SequenceStatus = 'waiting' | 'running' | 'finished';

/** A request inside the scheduler. Fields are mutated only by the scheduler. */
export class Sequence {
  readonly id: number;
  readonly priority: number;
  readonly cacheSalt: string | undefined;
  readonly promptLength: number;
  readonly outputTokens: readonly number[];
  /** Output tokens this sequence will produce: `min(outputTokens.length, maxTokens)`. */
  readonly targetOutput: number;
  /** When the sequence reached the scheduler (ms on the engine clock); FIFO order within a priority. */
  readonly arrival: number;
  /** Prompt plus every token generated so far; recomputed after a preemption. */
  readonly tokens: number[];
  /** Hashes of the full blocks of `tokens` computed so far (a cache of the hash chain). */
  readonly blockHashes: string[] = [];
  status: SequenceStatus = 'waiting';
  generated = 0;
  /** Tokens whose KV entries are in the cache (computed or reused from the prefix cache). */
  computed = 0;
  blocks: number[] = [];
  /** How many of `blocks` (from the start) are registered in the prefix cache. */
  registeredBlocks = 0;
  /** Prompt tokens served from the prefix cache at the first admission (reported as `cached_tokens`). */
  cachedTokens: number | undefined;
  preemptions = 0;
  firstScheduledAt: number | undefined;
  finishReason: FinishReason | undefined;

  constructor(id: number, spec: SequenceSpec, arrival: number) {
    if (spec.promptTokens.length === 0) throw new Error('a sequence needs at least one prompt token');
    this.id = id;
    this.priority = spec.priority ?? 0;
    this.cacheSalt = spec.cacheSalt;
    this.promptLength = spec.promptTokens.length;
    this.outputTokens = spec.outputTokens;
    this.targetOutput = Math.max(0, Math.min(spec.outputTokens.length, spec.maxTokens));
    this.arrival = arrival;
    this.tokens = [...spec.promptTokens];
  }

  /** True when the only token left to compute is the last one generated (a decode step). */
  get decoding(): boolean {
    return this.generated > 0 && this.computed === this.tokens.length - 1;
  }
}

/** Orders sequences by (priority asc, arrival asc, id asc): the scheduling order of vLLM's priority policy. */
export function compareSequences(a: Sequence, b: Sequence): number {
  return a.priority - b.priority || a.arrival - b.arrival || a.id - b.id;
}
