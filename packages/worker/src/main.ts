import {
  createLogger,
  type FleetConfig,
  loadConfig,
  partitionQueueName,
  partitionQueuePrefix,
  turnJobSchema,
} from '@agent-fleet/core';
import { LlmPool } from '@agent-fleet/llm';
import { createRetriever } from '@agent-fleet/rag';
import { createPool, migrate, NoteStore, ProfileStore, profileSchema, Transcript } from '@agent-fleet/state';
import {
  PartitionQueues,
  ProfileCache,
  Scratchpad,
  TurnControl,
  TurnEvents,
  TurnGate,
  TurnProducer,
  TurnRecords,
} from '@agent-fleet/turns';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { registerBuiltinTools } from './agent/builtin-tools.ts';
import { ToolRegistry } from './agent/tools.ts';
import { startIntake } from './intake.ts';
import { Memory } from './memory.ts';
import { createWorkerMetrics } from './metrics.ts';
import { createOpsServer } from './ops-server.ts';
import { TurnRunner } from './turn-runner.ts';

const logger = createLogger('worker');

function readConfig(): FleetConfig {
  try {
    return loadConfig();
  } catch (err) {
    process.stderr.write(`worker: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

const config = readConfig();
// BullMQ gets a connection of its own; ours batches the commands of concurrent turns into one
// write per event-loop tick (auto-pipelining), which is most of a worker's Redis cost.
const bullConnection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, enableAutoPipelining: true });
for (const conn of [bullConnection, redis]) {
  conn.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
}
const pool = createPool(config.DATABASE_URL, Math.min(20, config.WORKER_CONCURRENCY * 2));
await migrate(config.DATABASE_URL, logger);

const metrics = createWorkerMetrics();
const llm = new LlmPool({
  servers: config.LLM_BASE_URLS,
  apiKey: config.LLM_API_KEY,
  model: config.LLM_MODEL,
  routing: config.LLM_ROUTING,
  maxInFlightPerServer: config.LLM_MAX_IN_FLIGHT_PER_SERVER,
  requestTimeoutMs: config.LLM_TIMEOUT_MS,
  maxAttempts: config.LLM_MAX_ATTEMPTS,
  healthIntervalMs: config.LLM_HEALTH_INTERVAL_MS,
  registry: metrics.registry,
  logger,
});
const partitions = new PartitionQueues({
  connection: bullConnection,
  namespace: config.FLEET_NAMESPACE,
  partitions: config.PARTITIONS,
  policy: { attempts: config.TURN_ATTEMPTS, backoffMs: config.TURN_BACKOFF_MS },
});
const gate = new TurnGate({
  redis,
  namespace: config.FLEET_NAMESPACE,
  leaseMs: config.TURN_LEASE_MS,
  recordTtlSeconds: config.TURN_RECORD_TTL_SECONDS,
});
const transcript = new Transcript({ pool });
const profileStore = new ProfileStore({ pool });
const retriever = await createRetriever(config, pool, { llm, logger });
const tools = new ToolRegistry();
registerBuiltinTools(tools, { retriever, notes: new NoteStore({ pool }) });
const control = new TurnControl({ redis, namespace: config.FLEET_NAMESPACE });
const subscriber = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
subscriber.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
const runner = new TurnRunner({
  gate,
  records: new TurnRecords({
    redis,
    namespace: config.FLEET_NAMESPACE,
    ttlSeconds: config.TURN_RECORD_TTL_SECONDS,
  }),
  partitions,
  transcript,
  events: new TurnEvents({ redis, namespace: config.FLEET_NAMESPACE }),
  control,
  memory: new Memory({ gate, transcript, llm, tokenBudget: config.HISTORY_TOKEN_BUDGET, logger }),
  scratchpad: new Scratchpad({ redis, namespace: config.FLEET_NAMESPACE }),
  llm,
  profiles: new ProfileCache({
    redis,
    namespace: config.FLEET_NAMESPACE,
    schema: profileSchema,
    store: { get: (userId: string) => profileStore.resolve(userId, config.DEFAULT_TENANT) },
  }),
  retriever,
  tools,
  maxSteps: config.AGENT_MAX_STEPS,
  maxTokens: config.AGENT_MAX_TOKENS,
  crashAfterCheckpoint: config.FAULT_CRASH_AFTER_CHECKPOINT,
  topK: config.RAG_TOP_K,
  contextTokens: config.RAG_CONTEXT_TOKENS,
  metrics,
  logger,
  systemPrompt: config.SYSTEM_PROMPT,
  attempts: config.TURN_ATTEMPTS,
  parkDelayMs: config.PARK_DELAY_MS,
  gapGraceMs: config.GAP_GRACE_MS,
});

const unsubscribe = await control.subscribe(subscriber, ({ turnId }) => {
  if (runner.cancel(turnId)) logger.info({ turnId }, 'cancelling a running turn');
});

const workers = Array.from({ length: config.PARTITIONS }, (_, i) => {
  const w = new Worker(partitionQueueName(i), (job, token) => runner.process(job, token), {
    connection: bullConnection,
    prefix: partitionQueuePrefix(config.FLEET_NAMESPACE, i),
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.JOB_LOCK_MS,
    stalledInterval: config.STALLED_INTERVAL_MS,
    maxStalledCount: config.MAX_STALLED_COUNT,
  });
  w.on('error', (err) => logger.warn({ err: err.message, queue: w.name }, 'worker error'));
  // A job that failed for good without the runner recording it (it stalled too often) is recorded
  // here; whatever this misses, the gap repair of the user's next turn catches.
  w.on('failed', (job, err) => {
    if (!job || job.finishedOn === undefined) return;
    const parsed = turnJobSchema.safeParse(job.data);
    if (!parsed.success || !/stalled/i.test(err.message)) return;
    runner
      .recordFailure(parsed.data, err.message, '')
      .catch((e) =>
        logger.warn({ err: (e as Error).message, turnId: job.id }, 'could not record stalled turn'),
      );
  });
  return w;
});

const metricsServer =
  config.WORKER_METRICS_PORT > 0
    ? createOpsServer({ registry: metrics.registry, llm }).listen(config.WORKER_METRICS_PORT)
    : undefined;

// The intake queue: messages any BullMQ producer adds, accepted in arrival order (one at a time
// across the fleet) through the same TurnProducer as the gateway.
const intake = await startIntake({
  connection: bullConnection,
  namespace: config.FLEET_NAMESPACE,
  producer: new TurnProducer({
    redis,
    namespace: config.FLEET_NAMESPACE,
    partitions,
    records: new TurnRecords({
      redis,
      namespace: config.FLEET_NAMESPACE,
      ttlSeconds: config.TURN_RECORD_TTL_SECONDS,
    }),
    idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
    recordTtlSeconds: config.TURN_RECORD_TTL_SECONDS,
  }),
  logger,
  maxMessageBytes: config.MAX_MESSAGE_BYTES,
  lockDuration: config.JOB_LOCK_MS,
  stalledInterval: config.STALLED_INTERVAL_MS,
  maxStalledCount: config.MAX_STALLED_COUNT,
});

await Promise.all(workers.map((w) => w.waitUntilReady()));
logger.info(
  { partitions: config.PARTITIONS, concurrency: config.WORKER_CONCURRENCY, llm: config.LLM_BASE_URLS },
  'worker ready',
);
process.stdout.write(`${JSON.stringify({ event: 'ready', pid: process.pid })}\n`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping: no new jobs; finishing the ones in flight');
  const force = setTimeout(() => {
    logger.warn('shutdown grace period over: in-flight turns will be redelivered');
    process.exit(1);
  }, config.SHUTDOWN_GRACE_MS);
  force.unref();
  await Promise.all([...workers.map((w) => w.close()), intake.close()]);
  metricsServer?.close();
  await unsubscribe().catch(() => {});
  subscriber.disconnect();
  llm.close();
  await partitions.close();
  await pool.end();
  redis.disconnect();
  bullConnection.disconnect();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
