export { envSchema, type FleetConfig, loadConfig, parseEnv } from './config.ts';
export { errorChain } from './error-chain.ts';
export {
  assertNever,
  ERROR_CODES,
  type ErrorCode,
  FleetError,
  httpStatusOf,
  isRetryableStatus,
} from './errors.ts';
export {
  CIRCUIT_STATES,
  type FleetSnapshot,
  fleetSnapshotSchema,
  type LlmServerView,
  llmServerViewSchema,
  type RecoveryReport,
  type RunningTurn,
  recoveryReportSchema,
  runningTurnSchema,
  type TenantTokens,
  tenantTokensSchema,
  type WorkerHeartbeat,
  workerHeartbeatSchema,
} from './fleet-status.ts';
export {
  idempotencyKeySchema,
  newPrefixedId,
  newTurnId,
  prefixedIdPattern,
  TURN_ID_PATTERN,
  threadIdSchema,
  turnIdSchema,
  USER_ID_PATTERN,
  userIdSchema,
} from './ids.ts';
export {
  INTAKE_JOB_NAME,
  INTAKE_QUEUE,
  type IntakeMessage,
  type IntakeResult,
  intakeConsumerKeys,
  intakeMessageSchema,
  intakeQueuePrefix,
  intakeResultSchema,
  publicJsonSchemas,
  type TurnResult,
  turnResultSchema,
} from './intake.ts';
export {
  type ChatMessage,
  type HistoryMessage,
  type JobRetryPolicy,
  retryOptions,
  TURN_JOB_NAME,
  type TurnJob,
  turnJobSchema,
} from './job.ts';
export { hashKey, jumpConsistentHash, partitionOf } from './jump-hash.ts';
export { CLUSTER_SLOTS, keySlot } from './key-slot.ts';
export {
  apiKeyRevocationsChannel,
  fairQueueKey,
  hotStateKeys,
  partitionHashTag,
  partitionQueueName,
  partitionQueuePrefix,
  pendingUsersKey,
  type QuotaKeys,
  quotaEventsChannel,
  REVIEW_QUEUES,
  type ReviewKeys,
  recoveryReportKey,
  recoverySweepLockKey,
  reviewKeys,
  reviewQueuePrefix,
  tenantKeys,
  turnOwnerKey,
  type UserKeys,
  userKeys,
  userQuotaKeys,
  workerHeartbeatKey,
  workerHeartbeatsKey,
} from './keys.ts';
export { createLogger, type Logger } from './logger.ts';
export { LuaScript, type ScriptRunner } from './lua-script.ts';
export { type PostgresRefusal, refusedByPostgres } from './postgres-refusal.ts';
export {
  type DoubleTexting,
  doubleTextingSchema,
  type ProfileSettings,
  profileSettingsSchema,
  TOOL_NAME_PATTERN,
} from './profile-settings.ts';
export {
  DEFAULT_TENANT_QUOTA,
  QUOTA_WINDOWS,
  type QuotaRefusal,
  type QuotaScope,
  type QuotaWindow,
  quotaExceeded,
  type TenantQuota,
  tenantQuotaSchema,
  type UserQuota,
  userQuotaSchema,
  type WindowSpan,
  windowSpans,
} from './quota.ts';
export {
  type CreateRedisOptions,
  clusterTargetOf,
  createRedis,
  describeRedisTarget,
  isCluster,
  type RedisClient,
  type RedisRole,
  type RedisTarget,
  redisTargetOf,
  untilReady,
} from './redis-client.ts';
export {
  type ClusterNodeAddress,
  type RedisClusterConfig,
  redisClusterNodesSchema,
} from './redis-cluster-nodes.ts';
export { type RedisPlace, RedisStore } from './redis-store.ts';
export { sleep } from './sleep.ts';
export { orExitAtStartup } from './startup.ts';
export {
  FINAL_STATUSES,
  type FinalStatus,
  isFinalStatus,
  isTurnStatus,
  TURN_STATUSES,
  type TurnStatus,
  turnStatusSchema,
} from './statuses.ts';
export { findNul, hasNul, NUL_REFUSED, storable, storableText } from './storable.ts';
export { countTokens, decodeTokens, encodeTokens } from './tokens.ts';
export {
  ATTR,
  type Attributes,
  type Context,
  contextOfCarrier,
  currentTraceCarrier,
  fleetTracer,
  inSpan,
  linkToCarrier,
  markFailed,
  NO_SPAN,
  pastSpan,
  SPAN,
  type Span,
  SpanKind,
  type SpanSettings,
  stageSpanName,
  type TraceCarrier,
  traceCarrierSchema,
  traceLogFields,
} from './tracing.ts';
export {
  TURN_STAGES,
  type TurnStage,
  type TurnTimings,
  turnStageSchema,
  turnTimingsSchema,
} from './turn-stages.ts';
export { asUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS, unavailable } from './unavailable.ts';
export {
  billableTokens,
  NO_TENANT,
  sumUsage,
  type TokenUsage,
  type TurnUsage,
  turnUsageOf,
  turnUsageSchema,
  USAGE_KINDS,
  type UsageKind,
  type UsageLine,
} from './usage.ts';
export {
  BACKLOG_METRIC,
  BACKLOG_STATES,
  type BacklogState,
  OLDEST_WAITING_METRIC,
  type WorkQueue,
  type WorkQueueKind,
  workQueues,
} from './work-queues.ts';
