import type { PoolChatResult } from '@agent-fleet/llm';
import type { UnclearReason, Verdict } from './statuses.ts';

/**
 * A quote that occurs in the document, the heading path of the section it occurs in, and the text
 * around it (whitespace normalised, cut at words), so a report can show the quote in context.
 */
export interface Evidence {
  quote: string;
  section?: string;
  before?: string;
  after?: string;
}

/** The recorded answer for one (run, document, item): written once, never changed. */
export interface Finding {
  itemId: string;
  verdict: Verdict;
  /** Set when the fleet, not the model, decided `unclear`. */
  reason?: UnclearReason;
  evidence: Evidence[];
  rationale: string;
  confidence: number;
}

/** Token usage as the servers reported it, and how many model calls it took. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  calls: number;
}

export const noUsage = (): Usage => ({ promptTokens: 0, completionTokens: 0, cachedTokens: 0, calls: 0 });

/** Adds one model call's reported usage to `total`. */
export function addCall(
  total: Usage,
  r: Pick<PoolChatResult, 'promptTokens' | 'completionTokens' | 'cachedTokens'>,
) {
  total.promptTokens += r.promptTokens;
  total.completionTokens += r.completionTokens;
  total.cachedTokens += r.cachedTokens;
  total.calls += 1;
}
