import { z } from 'zod';

/**
 * Every constant of the engine model. Defaults mimic an 8B model (Llama-3-8B class, bf16) served
 * by vLLM on one H100 80GB; llm-d's inference-sim uses the same vocabulary (prefill overhead,
 * prefill time per token, inter-token latency, time factor under load, max-num-seqs).
 */
export interface EngineConfig {
  /** Most sequences in the running batch (vLLM `--max-num-seqs`). */
  maxNumSeqs: number;
  /** Most tokens computed in one engine step, prefill and decode together (`--max-num-batched-tokens`). */
  maxBatchedTokens: number;
  /** KV-cache capacity in tokens; the cache holds `floor(kvCacheTokens / blockSize)` blocks. */
  kvCacheTokens: number;
  /** Tokens per KV block; only full blocks are prefix-cached (vLLM `--block-size`). */
  blockSize: number;
  /** Longest prompt + completion a request may ask for (`--max-model-len`); at most `kvCacheTokens`. */
  maxModelLen: number;
  /** Reuse cached KV blocks across requests (`--enable-prefix-caching`, on by default in vLLM V1). */
  enablePrefixCaching: boolean;
  /**
   * Fixed per-request latency before the request reaches the scheduler (API server, tokenizer,
   * scheduling round trip). It overlaps with engine steps, so it never slows other sequences.
   */
  prefillOverheadMs: number;
  /** GPU time per uncached prompt token computed in a step. */
  prefillMsPerToken: number;
  /** Decode step time with one running sequence (inter-token latency at low load). */
  itlMs: number;
  /**
   * How much slower a decode step is with `maxNumSeqs` sequences than with one (>= 1): the step
   * takes `itlMs × (1 + (timeFactorUnderLoad − 1) × (n − 1) / (maxNumSeqs − 1))` for n sequences.
   */
  timeFactorUnderLoad: number;
  /** Wall-clock ms per modelled ms: 1 = real time, 0.1 = ten times faster, 0 = no modelled delay. */
  timeScale: number;
}

export const DEFAULT_ENGINE_CONFIG: Readonly<EngineConfig> = Object.freeze({
  maxNumSeqs: 256,
  maxBatchedTokens: 8192,
  kvCacheTokens: 300_000,
  blockSize: 16,
  maxModelLen: 32_768,
  enablePrefixCaching: true,
  prefillOverheadMs: 30,
  prefillMsPerToken: 0.25,
  itlMs: 12,
  timeFactorUnderLoad: 6,
  timeScale: 1,
});

const positiveInt = (max: number) => z.number().int().min(1).max(max);
const ms = z.number().min(0).max(60_000);

/** Validates a partial engine config (unknown keys are rejected so typos do not pass silently). */
export const engineConfigPatchSchema = z.strictObject({
  maxNumSeqs: positiveInt(65_536).optional(),
  maxBatchedTokens: positiveInt(1_048_576).optional(),
  kvCacheTokens: positiveInt(100_000_000).optional(),
  blockSize: positiveInt(1024).optional(),
  maxModelLen: positiveInt(10_000_000).optional(),
  enablePrefixCaching: z.boolean().optional(),
  prefillOverheadMs: ms.optional(),
  prefillMsPerToken: ms.optional(),
  itlMs: ms.optional(),
  timeFactorUnderLoad: z.number().min(1).max(1000).optional(),
  timeScale: z.number().min(0).max(1000).optional(),
});

/**
 * Fills in defaults and checks the constants fit together: the cache must hold at least one
 * sequence of `maxModelLen` tokens, otherwise a long request could never be scheduled.
 * Throws a plain Error naming the field on a bad combination.
 */
export function resolveEngineConfig(patch: Partial<EngineConfig> = {}): EngineConfig {
  const parsed = engineConfigPatchSchema.parse(patch);
  const defined = Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined));
  const config: EngineConfig = { ...DEFAULT_ENGINE_CONFIG, ...defined };
  const blocks = Math.floor(config.kvCacheTokens / config.blockSize);
  if (blocks < 1) throw new Error('kvCacheTokens: must hold at least one block of blockSize tokens');
  if (patch.maxModelLen === undefined)
    config.maxModelLen = Math.min(config.maxModelLen, blocks * config.blockSize);
  if (config.maxModelLen > blocks * config.blockSize) {
    throw new Error(
      `maxModelLen: ${config.maxModelLen} exceeds the KV cache (${blocks * config.blockSize} tokens); lower it or raise kvCacheTokens`,
    );
  }
  return config;
}

/** The decode slowdown with `n` sequences in the batch (1 for one sequence, `timeFactorUnderLoad` at `maxNumSeqs`). */
export function loadFactor(config: EngineConfig, n: number): number {
  if (config.maxNumSeqs <= 1 || n <= 1) return 1;
  return 1 + ((config.timeFactorUnderLoad - 1) * (n - 1)) / (config.maxNumSeqs - 1);
}

/**
 * Modelled duration of one engine step, in ms: the prefill tokens computed in the step plus one
 * decode pass whose cost grows linearly with the number of decoding sequences. Prefill is
 * compute-bound (cost per token); decode is memory-bound (one weight read per step, plus
 * attention and sampling work per sequence), which is why throughput flattens as batches grow.
 */
export function stepDurationMs(config: EngineConfig, prefillTokens: number, decodeSeqs: number): number {
  const decode = decodeSeqs > 0 ? config.itlMs * loadFactor(config, decodeSeqs) : 0;
  return prefillTokens * config.prefillMsPerToken + decode;
}

/** The engine's configured decode ceiling: output tokens per second at the best batch size. */
export interface EngineCapacity {
  /** Best output tokens/s in modelled time (decode only, no prefill). */
  maxGenerationTokensPerSecond: number;
  /** The batch size that reaches it. */
  bestBatchSize: number;
  /** The same ceiling in wall-clock time (`/ timeScale`); null when timeScale is 0 (unbounded). */
  wallClockMaxGenerationTokensPerSecond: number | null;
}

export function engineCapacity(config: EngineConfig): EngineCapacity {
  let best = 0;
  let bestBatchSize = 1;
  for (let n = 1; n <= config.maxNumSeqs; n++) {
    const step = stepDurationMs(config, 0, n);
    const rate = step > 0 ? (n * 1000) / step : Number.POSITIVE_INFINITY;
    if (rate > best) {
      best = rate;
      bestBatchSize = n;
    }
  }
  return {
    maxGenerationTokensPerSecond: best,
    bestBatchSize,
    wallClockMaxGenerationTokensPerSecond: config.timeScale > 0 ? best / config.timeScale : null,
  };
}
