// `@agent-fleet/client/http`: the gateway's HTTP client alone, without BullMQ or ioredis.
export { type ErrorCode, FleetError } from '@agent-fleet/core';
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
  TurnStatus,
  TurnStatusEvent,
  WaitOptions,
} from './types.ts';
