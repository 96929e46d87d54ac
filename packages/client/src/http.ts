// `@agent-fleet/client/http`: the gateway's HTTP client alone, without BullMQ or ioredis.
export {
  type ErrorCode,
  FINAL_STATUSES,
  type FinalStatus,
  FleetError,
  isFinalStatus,
  TURN_STAGES,
  TURN_STATUSES,
  type TurnStage,
  type TurnStatus,
  type TurnTimings,
} from '@agent-fleet/core';
export * from '@agent-fleet/review/api';
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
