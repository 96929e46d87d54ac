import {
  createRedis,
  type FleetConfig,
  type Logger,
  type RedisClient,
  type RedisRole,
  redisTargetOf,
  type TurnJob,
} from '@agent-fleet/core';
import { LlmPool } from '@agent-fleet/llm';
import { createRetriever, type Retriever } from '@agent-fleet/rag';
import type { EngineResources } from '@agent-fleet/review';
import { createPool, migrate, NoteStore, ProfileStore, profileSchema, Transcript } from '@agent-fleet/state';
import {
  configuredPartitions,
  configuredProducer,
  type PartitionQueues,
  PendingUsers,
  ProfileCache,
  RecoveryLock,
  RecoveryReports,
  Scratchpad,
  TurnControl,
  TurnEvents,
  TurnGate,
  type TurnProducer,
  TurnRecords,
  WorkerHeartbeats,
} from '@agent-fleet/turns';
import type { Pool } from 'pg';
import { registerBuiltinTools } from './agent/builtin-tools.ts';
import { ToolRegistry } from './agent/tools.ts';
import { HEARTBEAT_WINDOW_MS, Heartbeat } from './heartbeat/heartbeat.ts';
import { LlmServerWindow } from './heartbeat/llm-view.ts';
import { TenantTokenWindow } from './heartbeat/tenant-tokens.ts';
import { Memory } from './memory.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { OutageWatch } from './outage/outage-watch.ts';
import { llmProbe, postgresProbe, redisProbe } from './outage/probes.ts';
import { HeadJobs } from './recovery/head-jobs.ts';
import { TurnRepair } from './recovery/repair.ts';
import { RecoverySweep } from './recovery/sweep.ts';
import { createReviewResources } from './review-workers.ts';
import { RunningTurns } from './running-turns.ts';
import { TurnExecutor } from './turn/execute.ts';
import { TurnFinisher } from './turn/finisher.ts';
import { TurnPreparer } from './turn/prepare.ts';
import { TurnRunner } from './turn/runner.ts';
import { createMetering, type Metering } from './usage/wiring.ts';

/** The longest a turn waits between two tries while a dependency is away (it goes sooner when it is back). */
const OUTAGE_MAX_DELAY_MS = 5000;

/** Everything a worker process runs with, built once at start-up. */
export interface WorkerDeps {
  config: FleetConfig;
  logger: Logger;
  metrics: WorkerMetrics;
  /** The LLM pool turns and embeddings share (its health is the worker's readiness). */
  llm: LlmPool;
  /** BullMQ's connection (its blocking commands would stall ours). */
  bullConnection: RedisClient;
  /** A connection of its own for the cancellation channel (subscribed connections do nothing else). */
  subscriber: RedisClient;
  partitions: PartitionQueues;
  control: TurnControl;
  /** Which dependencies this process finds away; turns wait on it, the recovery sweep follows it. */
  outages: OutageWatch;
  runner: TurnRunner;
  /** Resumes users whose turns were left behind; started once the partition workers are ready. */
  recovery: RecoverySweep;
  /** Accepts intake messages the same way the gateway accepts HTTP ones. */
  producer: TurnProducer;
  /** What the review queues' jobs run with. */
  reviews: EngineResources;
  /** What this worker runs, written to Redis every second; started once the workers are ready. */
  heartbeat: Heartbeat;
  close(): Promise<void>;
}

/** Connect to Redis and Postgres, migrate, and wire the worker's collaborators. */
export async function createWorkerDeps(config: FleetConfig, logger: Logger): Promise<WorkerDeps> {
  const ns = config.FLEET_NAMESPACE;
  // Ours batches the commands of concurrent turns into one write per event-loop tick
  // (auto-pipelining), which is most of a worker's Redis cost.
  const redis = connect(config, 'worker', logger);
  const bullConnection = connect(config, 'queue', logger);
  const subscriber = connect(config, 'subscriber', logger);
  const pool = createPool(config.DATABASE_URL, Math.min(20, config.WORKER_CONCURRENCY * 2));
  await migrate(config.DATABASE_URL, logger);
  const metrics = createWorkerMetrics();
  const llm = createLlmPool(config, metrics, logger);
  const partitions = configuredPartitions(config, bullConnection);
  const records = new TurnRecords({ redis, namespace: ns, ttlSeconds: config.TURN_RECORD_TTL_SECONDS });
  const control = new TurnControl({ redis, namespace: ns });
  const outages = new OutageWatch({
    probes: [postgresProbe(pool), redisProbe(redis), llmProbe(llm)],
    logger,
  });
  // Signs that something may be back: check at once instead of at the next poll.
  llm.onHealthChange(() => outages.nudge());
  redis.on('ready', () => outages.nudge());
  const retriever = await createRetriever(config, pool, { llm, logger });
  /** Numbering of a user whose hot state left Redis (the intake's producer asks it). */
  const durable = new Transcript({ pool });
  const profiles = profileCache(config, redis, pool);
  const shared = {
    config,
    logger,
    metrics,
    redis,
    pool,
    llm,
    partitions,
    records,
    control,
    retriever,
    profiles,
    outages,
  };
  const metering = createMetering({ config, redis, pool, llm, partitions, metrics, logger });
  const reviews = createReviewResources({ ...shared, llm: metering.reviewLlm, connection: bullConnection });
  const running = new RunningTurns(metrics.running);
  const tenantTokens = new TenantTokenWindow(HEARTBEAT_WINDOW_MS);
  const { runner, repair } = await createTurnParts({ ...shared, running, tenantTokens, metering });
  const heartbeat = new Heartbeat({
    store: new WorkerHeartbeats({ redis, namespace: ns }),
    running,
    llm: new LlmServerWindow({ metrics: llm.metrics, servers: llm.servers, windowMs: HEARTBEAT_WINDOW_MS }),
    tenants: tenantTokens,
    slots: config.PARTITIONS * config.WORKER_CONCURRENCY,
    logger,
  });
  const recovery = new RecoverySweep({
    index: new PendingUsers({ redis, namespace: ns, partitions: config.PARTITIONS }),
    lock: new RecoveryLock({ redis, namespace: ns }),
    reports: new RecoveryReports({ redis, namespace: ns }),
    repair,
    intervalMs: config.RECOVERY_SWEEP_INTERVAL_MS,
    graceMs: config.GAP_GRACE_MS,
    logger,
    upkeep: async () => {
      for (const [i, queue] of partitions.queues.entries()) await metering.fairQueue.rebaseIfDue(i, queue);
    },
  });
  metering.sync.start();
  // A dependency back (or Redis reconnected): resume the users it left behind at once.
  outages.onRecovered(() => recovery.soon());
  llm.onHealthChange((h) => {
    if (h.healthy > 0) recovery.soon();
  });
  bullConnection.on('ready', () => recovery.soon());
  return {
    config,
    logger,
    metrics,
    llm,
    bullConnection,
    subscriber,
    partitions,
    control,
    outages,
    runner,
    recovery,
    producer: configuredProducer(config, {
      redis,
      partitions,
      records,
      transcript: durable,
      profiles: profiles,
    }),
    reviews,
    heartbeat,
    async close() {
      await heartbeat.close();
      metering.sync.close();
      await recovery.close();
      outages.close();
      subscriber.disconnect();
      llm.close();
      await partitions.close();
      await reviews.queues.close();
      await pool.end();
      redis.disconnect();
      bullConnection.disconnect();
    },
  };
}

/** What the turn runner shares with the rest of the process. */
interface Shared {
  config: FleetConfig;
  logger: Logger;
  metrics: WorkerMetrics;
  redis: RedisClient;
  pool: Pool;
  llm: LlmPool;
  partitions: PartitionQueues;
  records: TurnRecords;
  control: TurnControl;
  retriever: Retriever;
  profiles: ReturnType<typeof profileCache>;
  outages: OutageWatch;
}

/** The turn's parts, each given the collaborators it uses, and the repair of turns left behind. */
async function createTurnParts(
  s: Shared & { running: RunningTurns; tenantTokens: TenantTokenWindow; metering: Metering },
): Promise<{ runner: TurnRunner; repair: TurnRepair }> {
  const ns = s.config.FLEET_NAMESPACE;
  const gate = new TurnGate({
    redis: s.redis,
    namespace: ns,
    leaseMs: s.config.TURN_LEASE_MS,
    recordTtlSeconds: s.config.TURN_RECORD_TTL_SECONDS,
    hotStateTtlSeconds: s.config.HOT_STATE_TTL,
  });
  const transcript = new Transcript({ pool: s.pool });
  const events = new TurnEvents({ redis: s.redis, namespace: ns });
  const memory = new Memory({
    gate,
    transcript,
    llm: s.llm,
    tokenBudget: s.config.HISTORY_TOKEN_BUDGET,
    logger: s.logger,
  });
  const heads = new HeadJobs({
    partitions: s.partitions,
    records: s.records,
    control: s.control,
    requeue: (job) => s.metering.fairness.requeue(job),
  });
  const finisher = new TurnFinisher({
    gate,
    transcript,
    events,
    heads,
    records: s.records,
    ledger: s.metering.ledger,
    tenants: s.metering.tenants,
    fairness: s.metering.fairness,
    metrics: s.metrics,
    logger: s.logger,
    ...(s.config.FAULT_CRASH_AFTER_RECORD
      ? {
          afterRecord: (job: TurnJob) => {
            s.logger.warn({ turnId: job.turnId }, 'fault injection: killing this worker before the commit');
            process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
  });
  const repair = new TurnRepair({ gate, heads, finisher, metrics: s.metrics, logger: s.logger });
  const runner = new TurnRunner({
    gate,
    preparer: new TurnPreparer(
      {
        control: s.control,
        memory,
        profiles: s.profiles,
        pending: gate,
        retriever: s.retriever,
        meters: s.metering.meters,
        logger: s.logger,
      },
      {
        systemPrompt: s.config.SYSTEM_PROMPT,
        topK: s.config.RAG_TOP_K,
        contextTokens: s.config.RAG_CONTEXT_TOKENS,
      },
    ),
    executor: new TurnExecutor(
      { tools: createTools(s.retriever, s.pool), control: s.control },
      { maxSteps: s.config.AGENT_MAX_STEPS, maxTokens: s.config.AGENT_MAX_TOKENS },
    ),
    finisher,
    repair,
    checkpoints: new Scratchpad({ redis: s.redis, namespace: ns }),
    outages: s.outages,
    events,
    memory,
    meters: s.metering.meters,
    tenants: s.metering.tenants,
    fairness: s.metering.fairness,
    metrics: s.metrics,
    running: s.running,
    tenantTokens: s.tenantTokens,
    logger: s.logger,
    policy: {
      attempts: s.config.TURN_ATTEMPTS,
      parkDelayMs: s.config.PARK_DELAY_MS,
      gapGraceMs: s.config.GAP_GRACE_MS,
      crashAfterCheckpoint: s.config.FAULT_CRASH_AFTER_CHECKPOINT,
      outage: {
        windowMs: s.config.TURN_OUTAGE_WINDOW_MS,
        baseDelayMs: s.config.TURN_BACKOFF_MS,
        maxDelayMs: OUTAGE_MAX_DELAY_MS,
      },
    },
  });
  return { runner, repair };
}

/** A connection for `role` (see `RedisRole`); its errors are logged. */
function connect(config: FleetConfig, role: RedisRole, logger: Logger): RedisClient {
  const conn = createRedis(redisTargetOf(config), { role });
  conn.on('error', (err: Error) => logger.warn({ err: err.message, role }, 'redis connection error'));
  return conn;
}

function createLlmPool(config: FleetConfig, metrics: WorkerMetrics, logger: Logger): LlmPool {
  return new LlmPool({
    servers: config.LLM_BASE_URLS,
    apiKey: config.LLM_API_KEY,
    model: config.LLM_MODEL,
    routing: config.LLM_ROUTING,
    maxInFlightPerServer: config.LLM_MAX_IN_FLIGHT_PER_SERVER,
    batchMaxShare: config.LLM_BATCH_MAX_SHARE,
    requestTimeoutMs: config.LLM_TIMEOUT_MS,
    maxAttempts: config.LLM_MAX_ATTEMPTS,
    healthIntervalMs: config.LLM_HEALTH_INTERVAL_MS,
    registry: metrics.registry,
    logger,
  });
}

/**
 * Profiles through the Redis cache the gateway invalidates; the tenant default stands in for users
 * without one. Each profile read from Postgres notes the user's tenant in the tenant directory,
 * where producers without Postgres (the SDK) find it.
 */
function profileCache(config: FleetConfig, redis: RedisClient, pool: Pool) {
  const store = new ProfileStore({ pool });
  return new ProfileCache({
    redis,
    namespace: config.FLEET_NAMESPACE,
    schema: profileSchema,
    store: { get: (userId: string) => store.resolve(userId, config.DEFAULT_TENANT) },
    tenantOf: (profile) => profile.tenant,
  });
}

function createTools(retriever: Retriever, pool: Pool): ToolRegistry {
  const tools = new ToolRegistry();
  registerBuiltinTools(tools, { retriever, notes: new NoteStore({ pool }) });
  return tools;
}
