export {
  type ErrorCode,
  FINAL_STATUSES,
  type FinalStatus,
  FleetError,
  INTAKE_JOB_NAME,
  INTAKE_QUEUE,
  intakeQueuePrefix,
  isFinalStatus,
  TURN_STATUSES,
  type TurnStatus,
} from '@agent-fleet/core';
export { FleetApiError } from './errors.ts';
export {
  type ClusterConnection,
  FleetClient,
  type FleetClientOptions,
  toTurnRecord,
} from './fleet-client.ts';
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
  TurnStatusEvent,
  WaitOptions,
} from './types.ts';
