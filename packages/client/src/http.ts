// `@agent-fleet/client/http`: the gateway's HTTP client alone, without BullMQ or ioredis.
export {
  type ErrorCode,
  FINAL_STATUSES,
  type FinalStatus,
  FleetError,
  isFinalStatus,
  TURN_STATUSES,
  type TurnStatus,
} from '@agent-fleet/core';
export {
  type Checklist,
  type ChecklistItem,
  DOCUMENT_CHANGES,
  DOCUMENT_OUTCOMES,
  type DocumentChange,
  type DocumentOutcome,
  isFinalReviewStatus,
  isRestingReviewStatus,
  RESTING_REVIEW_STATUSES,
  REVIEW_PRIORITIES,
  REVIEW_STATUSES,
  type ReviewEvent,
  type ReviewList,
  type ReviewPriority,
  type ReviewReport,
  type ReviewScheduleList,
  type ReviewScheduleView,
  type ReviewStatus,
  type ReviewStatusView,
  type ScheduleInput,
  UNCLEAR_REASONS,
  type UnclearReason,
  VERDICTS,
  type Verdict,
} from '@agent-fleet/review/api';
export { FleetApiError } from './errors.ts';
export { FleetHttpClient, type FleetHttpClientOptions, type SendMessageInput } from './http-client.ts';
export {
  type CreateReviewInput,
  type ReportFormat,
  type ReviewFile,
  type ReviewStreamEvent,
  ReviewsApi,
} from './reviews.ts';
export type {
  DocumentResult,
  DocumentUpload,
  HistoryMessage,
  HistoryPage,
  Profile,
  ProfileInput,
  SentTurn,
  TurnEvent,
  TurnRecord,
  TurnStatusEvent,
  WaitOptions,
} from './types.ts';
