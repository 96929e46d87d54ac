export { type BreakerOptions, type BreakerState, CircuitBreaker } from './breaker.ts';
export { EmbeddingBatcher } from './embed-batcher.ts';
export { HashRing } from './hash-ring.ts';
export { createHttpFetch } from './http-fetch.ts';
export {
  backoff,
  LlmPool,
  type LlmPoolOptions,
  type PoolChatRequest,
  type PoolChatResult,
  type PoolMessage,
  type PoolStreamEvent,
  type PriorityClass,
  type ToolCall,
  type ToolSpec,
  VLLM_PRIORITY,
} from './pool.ts';
export { createPoolMetrics, type PoolMetrics } from './pool-metrics.ts';
export { Router, type RouterOptions, type RoutingStrategy, type ServerView } from './router.ts';
export { checkServer, originOf, type ServerHealth, sumMetric } from './server-monitor.ts';
export { type Waiter, WaitQueue } from './wait-queue.ts';
