/**
 * The review API's vocabulary and the shapes of its answers, for clients: the SDK bundles this entry
 * (`@agent-fleet/review/api`), so its types are the very definitions the gateway serialises its
 * answers through. Values here need nothing at run time; the rest are types.
 */
export type { Checklist, ChecklistItem } from './checklist.ts';
export type { ReviewEvent } from './events.ts';
export type { ReviewScheduleList, ReviewScheduleView, ScheduleInput } from './schedule.ts';
export {
  DOCUMENT_CHANGES,
  DOCUMENT_OUTCOMES,
  type DocumentChange,
  type DocumentOutcome,
  isFinalReviewStatus,
  isRestingReviewStatus,
  RESTING_REVIEW_STATUSES,
  REVIEW_PRIORITIES,
  REVIEW_STATUSES,
  type ReviewPriority,
  type ReviewStatus,
  UNCLEAR_REASONS,
  type UnclearReason,
  VERDICTS,
  type Verdict,
} from './statuses.ts';
export type { ReviewList, ReviewReport, ReviewStatusView } from './views.ts';
