export {
  type ErrorCode,
  FleetError,
  INTAKE_JOB_NAME,
  INTAKE_QUEUE,
  intakeQueuePrefix,
} from '@agent-fleet/core';
export { FleetApiError } from './errors.ts';
export { FleetClient, type FleetClientOptions, toTurnRecord } from './fleet-client.ts';
export { FleetHttpClient, type FleetHttpClientOptions, type SendMessageInput } from './http-client.ts';
export type {
  DocumentResult,
  DocumentUpload,
  HistoryMessage,
  HistoryPage,
  Profile,
  ProfileInput,
  SendInput,
  SentTurn,
  TurnEvent,
  TurnRecord,
  TurnStatus,
  TurnStatusEvent,
  WaitOptions,
} from './types.ts';
