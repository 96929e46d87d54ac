// `@agent-fleet/client`: the HTTP client (`./http.ts`) and FleetClient, which also enqueues through
// the fleet's Redis (BullMQ, ioredis).

export { INTAKE_JOB_NAME, INTAKE_QUEUE, intakeQueuePrefix } from '@agent-fleet/core';
export {
  type ClusterConnection,
  FleetClient,
  type FleetClientOptions,
  toTurnRecord,
} from './fleet-client.ts';
export * from './http.ts';
export type { SendInput } from './types.ts';
