import { z } from 'zod';
import { createPrng, type Prng } from './prng.ts';

/** Longest delay any knob may ask for; Node timers misbehave past ~24.8 days, tests need far less. */
export const MAX_DELAY_MS = 3_600_000;

const delayMs = z.number().min(0).max(MAX_DELAY_MS);
const rate = z.number().min(0).max(1);

/**
 * Makes matching requests slower by `latencyMs`. A rule matches when ANY criterion it names holds:
 * the body `user` field or the `x-user-id` header equals `user`, or the last user message contains
 * `contains` (case-sensitive). Every matching rule adds its latency.
 */
export const faultRuleSchema = z.strictObject({
  match: z
    .strictObject({ user: z.string().min(1).optional(), contains: z.string().min(1).optional() })
    .refine((m) => m.user !== undefined || m.contains !== undefined, 'match needs user or contains'),
  latencyMs: delayMs,
});
export type FaultRule = z.infer<typeof faultRuleSchema>;

/** Every knob the admin API can turn; fields left out keep their value. */
export const faultConfigPatchSchema = z.strictObject({
  errorRate: rate.optional(),
  rate429: rate.optional(),
  retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
  spikeRate: rate.optional(),
  spikeMs: delayMs.optional(),
  hangRate: rate.optional(),
  dropStreamRate: rate.optional(),
  fabricatedQuoteRate: rate.optional(),
  brokenJsonRate: rate.optional(),
  dieAfterRequests: z.number().int().min(1).nullable().optional(),
  latencyMs: delayMs.optional(),
  latencyJitterMs: delayMs.optional(),
  tokenLatencyMs: delayMs.optional(),
  rules: z.array(faultRuleSchema).max(1000).optional(),
  /** Restarts the fault PRNG from this seed, so a run can be reproduced without a restart. */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .optional(),
});
export type FaultConfigPatch = z.infer<typeof faultConfigPatchSchema>;

/** The complete fault configuration, as `GET /sim/config` returns it. */
export interface FaultConfig {
  /** Fraction (0..1) of inference requests that fail with a simulated HTTP 500. */
  errorRate: number;
  /** Fraction of inference requests rejected at once with HTTP 429 and a `Retry-After` header. */
  rate429: number;
  /** The `Retry-After` value of simulated 429s, in seconds. */
  retryAfterSeconds: number;
  /** Fraction of requests that get an extra `spikeMs` delay before the engine. */
  spikeRate: number;
  spikeMs: number;
  /** Fraction of requests that are never answered (until the client or the server gives up). */
  hangRate: number;
  /** Fraction of streamed answers cut mid-way: the socket is destroyed after some chunks. */
  dropStreamRate: number;
  /** Fraction of a document review's evidence quotes replaced by text the document does not contain. */
  fabricatedQuoteRate: number;
  /** Fraction of JSON answers (a response_format asked for one) cut short into invalid JSON. */
  brokenJsonRate: number;
  /** The server dies as the n-th inference request (counted since this was set) arrives; null: never. */
  dieAfterRequests: number | null;
  /** Base delay before every inference request enters the engine. */
  latencyMs: number;
  /**
   * Up to this much more, drawn per request (uniform): real servers' latencies vary, and a fixed one
   * keeps a fleet that started a burst at once finishing its turns in lockstep waves.
   */
  latencyJitterMs: number;
  /** Extra delay per generated token, on the response path (on top of the engine's own timing). */
  tokenLatencyMs: number;
  rules: FaultRule[];
  /** Seed the fault PRNG started from (random unless set). */
  seed: number;
}

/** What an inference request looks like to the fault rules. */
export interface FaultSubject {
  /** The body `user` field, if any. */
  user: string | undefined;
  /** The `x-user-id` header, if any. */
  headerUser: string | undefined;
  lastUserText: string;
}

/** What will happen to one request, decided when it arrives. */
export interface FaultPlan {
  /** Kill the server now (this request and every other open connection are cut). */
  die: boolean;
  /** Reject at once with 429. */
  rateLimited: boolean;
  /** Fail with 500 after the delay. */
  fail: boolean;
  /** Never answer. */
  hang: boolean;
  /** Delay before the engine (base latency, matching rules, spike). */
  delayMs: number;
  tokenLatencyMs: number;
  /** For a stream: cut it after this fraction (0..1) of the output tokens; undefined: never. */
  dropAtFraction: number | undefined;
  /** A JSON answer is sent cut short (invalid). */
  breakJson: boolean;
  /** Seeds the randomness of this request's content (which review quotes are fabricated). */
  contentSeed: number;
}

/** True when a rule applies to a request (see {@link faultRuleSchema} for the semantics). */
export function ruleMatches(rule: FaultRule, subject: FaultSubject): boolean {
  const { user, contains } = rule.match;
  if (user !== undefined && (subject.user === user || subject.headerUser === user)) return true;
  if (contains !== undefined && subject.lastUserText.includes(contains)) return true;
  return false;
}

/**
 * Holds the fault configuration and decides each request's fate with a seeded PRNG. Every request
 * draws the same number of values in the same order, so a seed reproduces a whole run's faults
 * whatever the knobs are.
 */
export class FaultInjector {
  #config: FaultConfig;
  #rng: Prng;
  #requestsSinceDieSet = 0;

  constructor(config: FaultConfig) {
    this.#config = cloneConfig(config);
    this.#rng = createPrng(config.seed);
  }

  get config(): FaultConfig {
    return cloneConfig(this.#config);
  }

  /** Applies a validated patch and returns the new complete config. */
  update(patch: FaultConfigPatch): FaultConfig {
    const next = cloneConfig(this.#config);
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined || key === 'rules' || key === 'seed') continue;
      (next as unknown as Record<string, unknown>)[key] = value;
    }
    if (patch.rules !== undefined) next.rules = patch.rules.map(cloneRule);
    if (patch.seed !== undefined) {
      next.seed = patch.seed;
      this.#rng = createPrng(patch.seed);
    }
    if (patch.dieAfterRequests !== undefined) this.#requestsSinceDieSet = 0;
    this.#config = next;
    return cloneConfig(next);
  }

  /** Decides one request's fate; call once per inference request, in arrival order. */
  plan(subject: FaultSubject): FaultPlan {
    const c = this.#config;
    const [r429, rFail, rSpike, rHang, rDrop, rDropAt, rBreak, rSeed, rJitter] = Array.from(
      { length: 9 },
      () => this.#rng(),
    ) as [number, number, number, number, number, number, number, number, number];
    this.#requestsSinceDieSet++;
    let delayMs = c.latencyMs + rJitter * c.latencyJitterMs;
    for (const rule of c.rules) if (ruleMatches(rule, subject)) delayMs += rule.latencyMs;
    if (rSpike < c.spikeRate) delayMs += c.spikeMs;
    return {
      die: c.dieAfterRequests !== null && this.#requestsSinceDieSet >= c.dieAfterRequests,
      rateLimited: r429 < c.rate429,
      fail: rFail < c.errorRate,
      hang: rHang < c.hangRate,
      delayMs: Math.min(delayMs, MAX_DELAY_MS),
      tokenLatencyMs: c.tokenLatencyMs,
      dropAtFraction: rDrop < c.dropStreamRate ? 0.1 + 0.8 * rDropAt : undefined,
      breakJson: rBreak < c.brokenJsonRate,
      contentSeed: Math.floor(rSeed * 2 ** 32),
    };
  }
}

function cloneRule(rule: FaultRule): FaultRule {
  return { match: { ...rule.match }, latencyMs: rule.latencyMs };
}

function cloneConfig(config: FaultConfig): FaultConfig {
  return { ...config, rules: config.rules.map(cloneRule) };
}
