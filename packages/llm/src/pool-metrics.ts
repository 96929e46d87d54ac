import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** prom-client metrics of an LLM pool, per server. */
export function createPoolMetrics(registry: Registry) {
  const registers = [registry];
  const secs = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
  return {
    requests: new Counter({
      name: 'fleet_llm_requests_total',
      help: 'LLM attempts by server and outcome (ok, retry, error, cancelled by the caller)',
      labelNames: ['server', 'outcome'] as const,
      registers,
    }),
    duration: new Histogram({
      name: 'fleet_llm_request_duration_seconds',
      help: 'LLM request duration by server',
      labelNames: ['server'] as const,
      buckets: secs,
      registers,
    }),
    ttft: new Histogram({
      name: 'fleet_llm_time_to_first_token_seconds',
      help: 'Time to the first streamed token by server',
      labelNames: ['server'] as const,
      buckets: secs,
      registers,
    }),
    queueWait: new Histogram({
      name: 'fleet_llm_queue_wait_seconds',
      help: 'Time a request waited for a server slot, by priority class',
      labelNames: ['priority'] as const,
      buckets: secs,
      registers,
    }),
    inFlight: new Gauge({
      name: 'fleet_llm_in_flight',
      help: 'Requests in flight per server',
      labelNames: ['server'] as const,
      registers,
    }),
    waiting: new Gauge({
      name: 'fleet_llm_waiting',
      help: 'Requests waiting in the pool for a server slot',
      registers,
    }),
    breaker: new Gauge({
      name: 'fleet_llm_circuit_state',
      help: 'Circuit breaker per server: 0 closed, 1 half-open, 2 open',
      labelNames: ['server'] as const,
      registers,
    }),
    tokens: new Counter({
      name: 'fleet_llm_tokens_total',
      help: 'Tokens by server and kind (prompt, completion, cached)',
      labelNames: ['server', 'kind'] as const,
      registers,
    }),
    serverWaiting: new Gauge({
      name: 'fleet_llm_server_waiting',
      help: 'vllm:num_requests_waiting as last scraped, per server',
      labelNames: ['server'] as const,
      registers,
    }),
    serverKvUsage: new Gauge({
      name: 'fleet_llm_server_kv_cache_usage',
      help: 'KV-cache usage 0..1 as last scraped, per server',
      labelNames: ['server'] as const,
      registers,
    }),
  };
}

export type PoolMetrics = ReturnType<typeof createPoolMetrics>;
