import { TURN_STAGES } from '@agent-fleet/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { StageHistograms } from './stage-timer.ts';
import { FAILURE_REASONS } from './turn/settlement.ts';

/** What a worker process exports on /metrics. */
export function createWorkerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fleet_worker_' });
  return {
    registry,
    turns: new Counter({
      name: 'fleet_worker_turns_total',
      help: 'Turns finished by this worker, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    running: new Gauge({
      name: 'fleet_worker_turns_running',
      help: 'Turns this worker runs now (from the gate opening until they settle)',
      registers: [registry],
    }),
    gate: new Counter({
      name: 'fleet_worker_gate_total',
      help: 'Turn gate decisions: acquired, duplicate, park, busy',
      labelNames: ['decision'] as const,
      registers: [registry],
    }),
    repairs: new Counter({
      name: 'fleet_worker_gap_repairs_total',
      help: 'Turns left behind that recovery got going or ended: add, promote, retry, cancel, fail',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    unrecorded: new Counter({
      name: 'fleet_worker_turns_unrecorded_total',
      help: 'Turns that ended without an answer and were committed without a transcript row (Postgres refused even the bare row, or stayed away past the outage window)',
      registers: [registry],
    }),
    turnSeconds: new Histogram({
      name: 'fleet_worker_turn_duration_seconds',
      help: 'From the gate opening to the turn being finished',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    stageSeconds: new Histogram({
      name: 'fleet_worker_turn_stage_seconds',
      help: `Time turns spent in each stage (${TURN_STAGES.join(', ')}); model, tool and checkpoint once per call`,
      labelNames: ['stage'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    modelSeconds: new Histogram({
      name: 'fleet_worker_model_call_seconds',
      help: "Each model call of a turn in two parts: first_token (from the call, the pool's admission included, until its first streamed token) and generation (the rest of the answer)",
      labelNames: ['part'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'fleet_worker_turn_failures_total',
      help: `Turns that failed, by reason (${FAILURE_REASONS.join(', ')})`,
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    replays: new Counter({
      name: 'fleet_worker_checkpoint_replays_total',
      help: 'Deliveries that resumed a turn from its checkpoint (after a crash, a retry or an outage), replaying its finished steps',
      registers: [registry],
    }),
    steps: new Counter({
      name: 'fleet_worker_agent_steps_total',
      help: 'Agent steps run (model calls and tool calls; replayed steps excluded)',
      registers: [registry],
    }),
    tokens: new Counter({
      name: 'fleet_tokens_total',
      help: 'Tokens the model servers reported, by tenant, model, kind of call (chat, summary, embedding, review) and type (prompt, completion, cached); never by user',
      labelNames: ['tenant', 'model', 'kind', 'type'] as const,
      registers: [registry],
    }),
    modelCalls: new Counter({
      name: 'fleet_model_calls_total',
      help: 'Model and embeddings calls whose usage was counted, by tenant, model and kind of call',
      labelNames: ['tenant', 'model', 'kind'] as const,
      registers: [registry],
    }),
    quotaSoft: new Counter({
      name: 'fleet_quota_soft_threshold_total',
      help: 'Budgets whose soft threshold a call crossed, by tenant, scope (tenant or user) and window',
      labelNames: ['tenant', 'scope', 'window'] as const,
      registers: [registry],
    }),
    quotaExceeded: new Counter({
      name: 'fleet_quota_exceeded_total',
      help: 'Model calls refused because a budget was used up, by tenant, scope (tenant or user) and window',
      labelNames: ['tenant', 'scope', 'window'] as const,
      registers: [registry],
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/** The histograms a turn's stages and model calls are observed in. */
export function stageHistograms(m: Pick<WorkerMetrics, 'stageSeconds' | 'modelSeconds'>): StageHistograms {
  return { stage: m.stageSeconds, model: m.modelSeconds };
}
