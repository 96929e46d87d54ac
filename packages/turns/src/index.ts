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
  DEFERRED_DELAY_MS,
  FAIR_QUANTUM,
  FairQueue,
  type FairTag,
  MAX_FAIR_PRIORITY,
  priorityOf,
} from './fair-queue.ts';
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
export { configuredPartitions, PartitionQueues, type TurnJobPolicy } from './partitions.ts';
export { decodePending, encodePending, type PendingPayload } from './pending.ts';
export { type IndexedUser, PendingUsers } from './pending-users.ts';
export {
  type AcceptedTurn,
  type AcceptInput,
  configuredProducer,
  DEFAULT_QUEUE_ORDER,
  NumberingUnknownError,
  type QueueOrder,
  TurnProducer,
} from './producer.ts';
export { ProfileCache } from './profile-cache.ts';
export {
  type BudgetCheck,
  type BudgetHolder,
  type BudgetStatus,
  DEFAULT_TERMS,
  type PerUserLimits,
  QuotaBook,
  type TenantTerms,
  type WindowUse,
} from './quota-book.ts';
export {
  type TurnRecord,
  TurnRecords,
  toTurnResult,
  usageIncrements,
  usageLinesOf,
} from './records.ts';
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
export { TenantDirectory } from './tenant-directory.ts';
