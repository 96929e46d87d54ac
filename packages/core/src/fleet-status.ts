import { z } from 'zod';
import { turnStageSchema } from './turn-stages.ts';

/** A turn a worker runs now, and the stage it is in. */
export const runningTurnSchema = z.object({
  turnId: z.string(),
  userId: z.string(),
  seq: z.number().int(),
  /** The partition queue the turn came from. */
  queue: z.string(),
  tenant: z.string().optional(),
  attempt: z.number().int(),
  /** When this delivery passed the gate (ms since the epoch). */
  startedAt: z.number(),
  stage: turnStageSchema,
  /** When the current stage began (ms since the epoch). */
  stageStartedAt: z.number(),
});
export type RunningTurn = z.infer<typeof runningTurnSchema>;

/** Circuit breaker states of an LLM server, as the pool's `fleet_llm_circuit_state` numbers them. */
export const CIRCUIT_STATES = ['closed', 'half-open', 'open'] as const;

/** One LLM server as one worker's pool sees it: now, and over the last minute. */
export const llmServerViewSchema = z.object({
  server: z.string(),
  inFlight: z.number(),
  circuit: z.enum(CIRCUIT_STATES),
  /** Requests waiting inside the server and its KV-cache use, as the pool last scraped them. */
  serverWaiting: z.number(),
  kvCacheUsage: z.number(),
  requests: z.number(),
  errors: z.number(),
  ttftSeconds: z.number(),
  ttftCount: z.number(),
  promptTokens: z.number(),
  cachedTokens: z.number(),
  completionTokens: z.number(),
});
export type LlmServerView = z.infer<typeof llmServerViewSchema>;

/** Tokens a tenant's turns used on one worker over the last minute. */
export const tenantTokensSchema = z.object({
  tenant: z.string(),
  promptTokens: z.number(),
  completionTokens: z.number(),
});
export type TenantTokens = z.infer<typeof tenantTokensSchema>;

/**
 * What a worker process reports about itself every second in Redis (expiring, so a worker that
 * died disappears): its slots, the turns it runs with their current stage, its pool's view of each
 * LLM server and the tokens per tenant. Counts (`requests`, tokens, TTFT sums) cover the last
 * `windowSeconds`, so readers add workers up without keeping state of their own.
 */
export const workerHeartbeatSchema = z.object({
  v: z.literal(1),
  workerId: z.string(),
  host: z.string(),
  pid: z.number().int(),
  startedAt: z.number(),
  at: z.number(),
  /** Turns this worker may run at once (partitions × WORKER_CONCURRENCY). */
  slots: z.number().int(),
  windowSeconds: z.number(),
  turns: z.array(runningTurnSchema),
  llm: z.array(llmServerViewSchema),
  tenants: z.array(tenantTokensSchema),
});
export type WorkerHeartbeat = z.infer<typeof workerHeartbeatSchema>;

/** What the last recovery sweep found: users whose next turn nobody ran, and when it ran. */
export const recoveryReportSchema = z.object({
  at: z.number(),
  users: z.number().int(),
  stuck: z.number().int(),
});
export type RecoveryReport = z.infer<typeof recoveryReportSchema>;

/**
 * The fleet at one instant, as `GET /v1/admin/fleet` answers and `fleet top` draws it: every work
 * queue's backlog and the age of its oldest waiting job, every live worker with its turns in
 * flight, every LLM server over the last minute (summed over the workers' pools), the slowest
 * running turns with their stage, and tenants by tokens per minute.
 */
export const fleetSnapshotSchema = z.object({
  at: z.number(),
  queues: z.array(
    z.object({
      queue: z.string(),
      kind: z.enum(['partition', 'intake', 'review']),
      backlog: z.number().int(),
      waiting: z.number().int(),
      prioritized: z.number().int(),
      delayedReady: z.number().int(),
      active: z.number().int(),
      oldestWaitingSeconds: z.number(),
    }),
  ),
  workers: z.array(
    z.object({
      workerId: z.string(),
      host: z.string(),
      pid: z.number().int(),
      startedAt: z.number(),
      lastSeenAt: z.number(),
      slots: z.number().int(),
      turnsInFlight: z.number().int(),
    }),
  ),
  llm: z.array(
    z.object({
      server: z.string(),
      inFlight: z.number(),
      /** Workers whose pool has this server's circuit open, of `workers` reporting it. */
      openIn: z.number().int(),
      workers: z.number().int(),
      serverWaiting: z.number(),
      kvCacheUsage: z.number(),
      requestsPerMinute: z.number(),
      errorsPerMinute: z.number(),
      /** Mean time to first token over the last minute; null when no streamed call finished. */
      ttftMs: z.number().nullable(),
      /** Cached over prompt tokens over the last minute; null when no prompt tokens. */
      cacheHitRate: z.number().nullable(),
      tokensPerMinute: z.number(),
    }),
  ),
  turns: z.array(
    runningTurnSchema.extend({
      workerId: z.string(),
      runningSeconds: z.number(),
      stageSeconds: z.number(),
    }),
  ),
  tenants: z.array(
    z.object({
      tenant: z.string(),
      tokensPerMinute: z.number(),
      promptTokensPerMinute: z.number(),
      completionTokensPerMinute: z.number(),
    }),
  ),
  recovery: recoveryReportSchema.nullable(),
});
export type FleetSnapshot = z.infer<typeof fleetSnapshotSchema>;
