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
export { FleetApiError } from './errors.ts';
export { FleetHttpClient, type FleetHttpClientOptions, type SendMessageInput } from './http-client.ts';
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
