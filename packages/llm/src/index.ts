export type { AttemptOutcome } from './admission.ts';
export { chatRequestBody } from './attempts.ts';
export { type BreakerOptions, type BreakerState, CircuitBreaker } from './breaker.ts';
export { type BatchedEmbedding, EmbeddingBatcher, shareOut } from './embed-batcher.ts';
export { HashRing } from './hash-ring.ts';
export { createHttpFetch } from './http-fetch.ts';
export { LlmPool, type LlmPoolOptions } from './pool.ts';
export { createPoolMetrics, type PoolMetrics } from './pool-metrics.ts';
export { backoff, classify, type RetryPolicy, toFleetError, type Verdict } from './retry-loop.ts';
export { Router, type RouterOptions, type RoutingStrategy, type ServerView } from './router.ts';
export {
  checkServer,
  llmReadiness,
  originOf,
  type ServerHealth,
  ServerMonitor,
  type ServerMonitorOptions,
  sumMetric,
} from './server-monitor.ts';
export {
  type PoolCall,
  type PoolChatRequest,
  type PoolChatResult,
  type PoolEmbedRequest,
  type PoolEmbedResult,
  type PoolHealth,
  type PoolMessage,
  type PoolStreamEvent,
  type PoolWaitEvent,
  type PriorityClass,
  type ServerStatus,
  type ToolCall,
  type ToolSpec,
  VLLM_PRIORITY,
} from './types.ts';
export { type FairShare, type Waiter, WaitQueue } from './wait-queue.ts';
