export { envSchema, loadConfig, type FleetConfig } from './config.ts';
export { assertNever, FleetError, httpStatusOf, isRetryableStatus, type ErrorCode } from './errors.ts';
export {
  idempotencyKeySchema,
  newTurnId,
  threadIdSchema,
  TURN_ID_PATTERN,
  turnIdSchema,
  USER_ID_PATTERN,
  userIdSchema,
} from './ids.ts';
export {
  TURN_JOB_NAME,
  turnJobSchema,
  type ChatMessage,
  type HistoryMessage,
  type TurnJob,
  type TurnStatus,
} from './job.ts';
export { hashKey, jumpConsistentHash, partitionOf } from './jump-hash.ts';
export { partitionQueueName, partitionQueuePrefix, turnKey, userKeys, type UserKeys } from './keys.ts';
export { createLogger, type Logger } from './logger.ts';
export { LuaScript, type ScriptRunner } from './lua-script.ts';
