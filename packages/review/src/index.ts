// The statuses, verdicts and answer shapes clients share (the SDK bundles `./api.ts`).
export * from './api.ts';
export { type AskContext, askItems, type ChatPort, ReviewStopped } from './ask.ts';
export {
  CHECKLIST_ITEM_ID,
  type Checklist,
  type ChecklistItem,
  checklistItemSchema,
  checklistSchema,
  type FieldIssue,
  fieldOf,
  invalidFields,
  MAX_CHECKLIST_ITEMS,
  parseChecklist,
} from './checklist.ts';
export {
  assembleDocument,
  contextAround,
  type ReviewDocument,
  type Section,
  sectionAt,
} from './document.ts';
export { recordFinalFailure, reviewHandlers } from './engine.ts';
export {
  type ReviewEvent,
  ReviewEvents,
  type ReviewTailItem,
  type StoredReviewEvent,
  type StreamFollower,
} from './events.ts';
export type { Evidence, Finding, Usage } from './finding.ts';
export { REPORT_CSP } from './html-assets.ts';
export {
  dispatchReviewJob,
  REVIEW_JOBS,
  type ReviewHandlers,
  type ReviewJobData,
  type ReviewJobName,
  type ReviewJobPolicy,
  RUN_ID_PATTERN,
  reviewJobPolicies,
  runIdSchema,
} from './jobs.ts';
export { parseReviewReply, REVIEW_SCHEMA_NAME, reviewJsonSchema, reviewResponseFormat } from './output.ts';
export { REVIEW_SYSTEM_PROMPT, reviewMessages } from './prompt.ts';
export { type FlowChild, ReviewQueues } from './queues.ts';
export { MIN_QUOTE_CHARS, normalizeWhitespace, QuoteIndex, type QuoteSpan } from './quotes.ts';
export { renderCsv } from './render-csv.ts';
export { renderHtml } from './render-html.ts';
export { renderMarkdown } from './render-markdown.ts';
export {
  type CreateReviewInput,
  createReviewDocSchema,
  parseCreateReview,
  selectorSchema,
} from './request.ts';
export type { EngineResources } from './resources.ts';
export {
  DocumentReviewer,
  type DocumentTask,
  describeError,
  type ReviewerDeps,
  type ReviewerOptions,
  type TaskResult,
} from './reviewer.ts';
export { type RerunResult, rerunSchedule } from './run-scheduled.ts';
export { type NewReview, newRunId, ReviewRuns } from './runs.ts';
export {
  cronProblem,
  newScheduleId,
  type ReviewScheduleList,
  type ReviewScheduleView,
  reviewScheduleListSchema,
  reviewScheduleSchema,
  SCHEDULE_ID_PATTERN,
  type ScheduleInput,
  type ScheduleRecord,
  scheduleIdSchema,
  scheduleInputSchema,
} from './schedule.ts';
export { ReviewScheduleStore } from './schedule-store.ts';
export { ReviewSchedules } from './schedules.ts';
export { QUEUE_PRIORITY } from './statuses.ts';
export {
  type DocumentError,
  type FailedUpload,
  type NewRun,
  ReviewStore,
  type RunDocument,
  type RunProgress,
  type RunRecord,
  type RunSpec,
  type StoredFinding,
} from './store.ts';
export {
  buildReport,
  type ReviewList,
  type ReviewReport,
  type ReviewStatusView,
  reviewListSchema,
  reviewReportSchema,
  reviewStatusSchema,
  statusView,
} from './views.ts';
