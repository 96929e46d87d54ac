/**
 * The review's vocabularies, in one module the engine, the HTTP API, the store's CHECK constraints
 * (migration 1764900000000_reviews.sql) and clients share.
 */

/**
 * A run's status. `cancelled` stops the run where it is and may be resumed; `completed` and
 * `failed` never change again.
 */
export const REVIEW_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type ReviewStatus = (typeof REVIEW_STATUSES)[number];

/** Statuses a run never leaves. */
export function isFinalReviewStatus(status: ReviewStatus): boolean {
  return status === 'completed' || status === 'failed';
}

/**
 * Statuses in which a run stays until someone acts: the final ones, and `cancelled` (until resumed).
 * Watching a run (its event stream, the SDK, the CLI) ends at these.
 */
export const RESTING_REVIEW_STATUSES = ['completed', 'failed', 'cancelled'] as const;

export function isRestingReviewStatus(status: ReviewStatus): boolean {
  return (RESTING_REVIEW_STATUSES as readonly string[]).includes(status);
}

/** What a checklist item gets for one document. */
export const VERDICTS = ['compliant', 'non_compliant', 'not_applicable', 'unclear'] as const;
export type Verdict = (typeof VERDICTS)[number];

/**
 * Why the fleet recorded `unclear` itself: the evidence quotes did not occur in the document even
 * when asked again, or the model's reply was not valid JSON of the requested shape after the retries.
 */
export const UNCLEAR_REASONS = ['unverifiable_evidence', 'invalid_output'] as const;
export type UnclearReason = (typeof UNCLEAR_REASONS)[number];

/**
 * How a document of a run ended: `reviewed` (every item has a finding), `not_permitted` (the run's
 * user may not read it: nothing of it reached a model), `not_found` (no such document in the
 * user's tenant), `failed` (it could not be parsed or reviewed; the error says why).
 */
export const DOCUMENT_OUTCOMES = ['reviewed', 'not_permitted', 'not_found', 'failed'] as const;
export type DocumentOutcome = (typeof DOCUMENT_OUTCOMES)[number];

/**
 * How a document of a rerun compares with the previous run of its schedule: `new` (that run did not
 * review it), `changed` (its content hash differs: reviewed again) or `unchanged` (same content: its
 * findings were carried forward and no model was asked).
 */
export const DOCUMENT_CHANGES = ['new', 'changed', 'unchanged'] as const;
export type DocumentChange = (typeof DOCUMENT_CHANGES)[number];

/**
 * A run's priority among review runs; every run stays below chat (the LLM pool's `batch` class and
 * vLLM priority), this only orders review work.
 */
export const REVIEW_PRIORITIES = ['low', 'normal', 'high'] as const;
export type ReviewPriority = (typeof REVIEW_PRIORITIES)[number];

/** BullMQ job priority of a run's jobs (lower runs first; never 0, which would outrank every priority). */
export const QUEUE_PRIORITY: Record<ReviewPriority, number> = { high: 1, normal: 5, low: 10 };
