export { measureQueueBacklog, oldestWaitingSeconds, type QueueBacklog, WorkBacklog } from './backlog.ts';
export { type CancelRequest, controlChannel, TurnControl } from './control.ts';
export {
  type StoredEvent,
  type TailItem,
  type TailOptions,
  TokenBuffer,
  type TurnEvent,
  TurnEvents,
} from './events.ts';
export {
  type BeginResult,
  type CommitInput,
  type CommitResult,
  type GateView,
  type HistoryMeta,
  type RebuiltHistory,
  TurnGate,
  type TurnGateOptions,
} from './gate.ts';
export { WorkerHeartbeats } from './heartbeats.ts';
export { scripts } from './lua.ts';
export { PartitionQueues, type TurnJobPolicy } from './partitions.ts';
export { decodePending, encodePending, type PendingPayload } from './pending.ts';
export { type IndexedUser, PendingUsers } from './pending-users.ts';
export { type AcceptedTurn, type AcceptInput, NumberingUnknownError, TurnProducer } from './producer.ts';
export { ProfileCache } from './profile-cache.ts';
export { type TurnRecord, TurnRecords, toTurnResult } from './records.ts';
export { RecoveryLock } from './recovery-lock.ts';
export { RecoveryReports } from './recovery-report.ts';
export { Scratchpad } from './scratchpad.ts';
export {
  compareStreamIds,
  type StreamEntry,
  type StreamFollower,
} from './stream-followers.ts';
export { StreamPoller, type StreamPollerOptions } from './stream-poller.ts';
export { StreamReader, type StreamReaderOptions } from './stream-reader.ts';
