import { z } from 'zod';
import { createPrng, type Prng } from './prng.ts';

/** Longest delay any knob may ask for; Node timers misbehave past ~24.8 days, tests need far less. */
export const MAX_DELAY_MS = 3_600_000;

const delayMs = z.number().min(0).max(MAX_DELAY_MS);

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
  errorRate: z.number().min(0).max(1).optional(),
  latencyMs: delayMs.optional(),
  tokenLatencyMs: delayMs.optional(),
  rules: z.array(faultRuleSchema).max(1000).optional(),
  /** Restarts the failure PRNG from this seed, so a run can be reproduced without a restart. */
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
  /** Fraction (0..1) of chat requests that fail with a simulated HTTP 500. */
  errorRate: number;
  /** Base delay before every chat reply. */
  latencyMs: number;
  /** Extra delay per generated token. */
  tokenLatencyMs: number;
  rules: FaultRule[];
  /** Seed the failure PRNG started from (random unless set). */
  seed: number;
}

/** What a chat request looks like to the fault rules. */
export interface FaultSubject {
  /** The body `user` field, if any. */
  user: string | undefined;
  /** The `x-user-id` header, if any. */
  headerUser: string | undefined;
  lastUserText: string;
}

/** What will happen to one request, decided when it arrives. */
export interface FaultPlan {
  fail: boolean;
  /** Delay before the first token (base latency plus matching rules). */
  delayMs: number;
  tokenLatencyMs: number;
}

/** True when a rule applies to a request (see {@link faultRuleSchema} for the semantics). */
export function ruleMatches(rule: FaultRule, subject: FaultSubject): boolean {
  const { user, contains } = rule.match;
  if (user !== undefined && (subject.user === user || subject.headerUser === user)) return true;
  return contains !== undefined && subject.lastUserText.includes(contains);
}

/**
 * Holds the live fault configuration and decides each request's fate. It draws exactly one PRNG
 * number per request, whatever the error rate, so with a fixed seed and request order the
 * failing requests are the same on every run.
 */
export class FaultInjector {
  #config: FaultConfig;
  #rng: Prng;

  constructor(initial: FaultConfig) {
    this.#config = cloneConfig(initial);
    this.#rng = createPrng(initial.seed);
  }

  /** A copy of the current configuration. */
  get config(): FaultConfig {
    return cloneConfig(this.#config);
  }

  /** Applies a validated patch and returns the new configuration; a given `seed` restarts the PRNG. */
  update(patch: FaultConfigPatch): FaultConfig {
    const next = cloneConfig(this.#config);
    if (patch.errorRate !== undefined) next.errorRate = patch.errorRate;
    if (patch.latencyMs !== undefined) next.latencyMs = patch.latencyMs;
    if (patch.tokenLatencyMs !== undefined) next.tokenLatencyMs = patch.tokenLatencyMs;
    if (patch.rules !== undefined) next.rules = patch.rules.map(cloneRule);
    if (patch.seed !== undefined) {
      next.seed = patch.seed;
      this.#rng = createPrng(patch.seed);
    }
    this.#config = next;
    return cloneConfig(next);
  }

  /** Decides one request's fate; call once per chat request, in arrival order. */
  plan(subject: FaultSubject): FaultPlan {
    const { errorRate, latencyMs, tokenLatencyMs, rules } = this.#config;
    const fail = this.#rng() < errorRate;
    let delayMs = latencyMs;
    for (const rule of rules) if (ruleMatches(rule, subject)) delayMs += rule.latencyMs;
    return { fail, delayMs: Math.min(delayMs, MAX_DELAY_MS), tokenLatencyMs };
  }
}

function cloneRule(rule: FaultRule): FaultRule {
  return { match: { ...rule.match }, latencyMs: rule.latencyMs };
}

function cloneConfig(config: FaultConfig): FaultConfig {
  return { ...config, rules: config.rules.map(cloneRule) };
}
