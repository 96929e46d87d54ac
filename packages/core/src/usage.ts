import { z } from 'zod';

/**
 * Tokens are the unit of cost and fairness: every number here is what a model server reported for
 * a call (`usage.prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`), never
 * a count the fleet made of the text itself.
 */
export interface TokenUsage {
  promptTokens: number;
  /** 0 for embeddings. */
  completionTokens: number;
  /** Prompt tokens the server found in its prefix cache (part of `promptTokens`). */
  cachedTokens: number;
}

/**
 * What a call was for: a step of a turn's agent loop (`chat`), folding a turn's history into the
 * summary (`summary`, charged to the turn that triggered the fold), an embeddings request
 * (`embedding`), a review run's call (`review`).
 */
export const USAGE_KINDS = ['chat', 'summary', 'embedding', 'review'] as const;
export type UsageKind = (typeof USAGE_KINDS)[number];

/** Usage summed over the calls of one kind to one model. */
export interface UsageLine extends TokenUsage {
  kind: UsageKind;
  model: string;
  calls: number;
}

/**
 * The tenant that usage and fairness are counted under for a user with no tenant (no profile and
 * no DEFAULT_TENANT): tenants start with a letter or digit, so it cannot be a tenant's name.
 */
export const NO_TENANT = '_';

/** What a budget counts: prompt and completion tokens (cached prompt tokens included). */
export function billableTokens(u: Pick<TokenUsage, 'promptTokens' | 'completionTokens'>): number {
  return u.promptTokens + u.completionTokens;
}

/** The lines added up: one total over every kind and model. */
export function sumUsage(lines: readonly (TokenUsage & { calls: number })[]): TokenUsage & { calls: number } {
  const total = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, calls: 0 };
  for (const l of lines) {
    total.promptTokens += l.promptTokens;
    total.completionTokens += l.completionTokens;
    total.cachedTokens += l.cachedTokens;
    total.calls += l.calls;
  }
  return total;
}

const count = z.number().int().nonnegative();

/** A turn's usage as `GET /v1/turns/:turnId` and the SDK report it. */
export const turnUsageSchema = z
  .object({
    promptTokens: count.describe('prompt tokens the servers reported, over every call of the turn'),
    completionTokens: count.describe('completion tokens the servers reported'),
    cachedTokens: count.describe('prompt tokens the servers found in their prefix cache'),
    totalTokens: count.describe('promptTokens + completionTokens: what budgets count'),
    calls: count.describe('model and embeddings calls'),
    lines: z
      .array(
        z.object({
          kind: z.enum(USAGE_KINDS),
          model: z.string(),
          promptTokens: count,
          completionTokens: count,
          cachedTokens: count,
          calls: count,
        }),
      )
      .describe('the same per kind of call (chat, summary, embedding) and model'),
  })
  .describe(
    'token usage as the model servers reported it; a summary the turn triggered is added once it is written',
  );
export type TurnUsage = z.infer<typeof turnUsageSchema>;

/** The public usage of a turn from its lines. */
export function turnUsageOf(lines: readonly UsageLine[]): TurnUsage {
  const total = sumUsage(lines);
  return {
    ...total,
    totalTokens: billableTokens(total),
    lines: [...lines]
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.model.localeCompare(b.model))
      .map((l) => ({ ...l })),
  };
}
