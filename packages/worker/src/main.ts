import { createLogger, loadConfig, orExitAtStartup } from '@agent-fleet/core';
import { startTracing } from '@agent-fleet/telemetry';
import { createWorkerDeps } from './deps.ts';
import { startIntake } from './intake/consumer.ts';
import { crashingAfter } from './intake/fault.ts';
import { createOpsServer } from './ops-server.ts';
import { startPartitionWorkers } from './partition-workers.ts';
import { startReviewWorkers } from './review-workers.ts';

const logger = createLogger('worker');

const config = orExitAtStartup('worker', loadConfig);
// Traces over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; nothing started when not.
const tracing = orExitAtStartup('worker', () => startTracing({ serviceName: 'fleet-worker' }));
const deps = await createWorkerDeps(config, logger);

const unsubscribe = await deps.control.subscribe(deps.subscriber, ({ turnId }) => {
  if (deps.runner.cancel(turnId)) logger.info({ turnId }, 'cancelling a running turn');
});
const workers = startPartitionWorkers(deps);
const reviewWorkers = startReviewWorkers(deps);
const opsServer =
  config.WORKER_METRICS_PORT > 0
    ? createOpsServer({ registry: deps.metrics.registry, llm: deps.llm }).listen(config.WORKER_METRICS_PORT)
    : undefined;
// The intake queue: messages any BullMQ producer adds, accepted in batches by one worker at a time,
// each user's in arrival order, through the same TurnProducer as the gateway.
const intake = await startIntake({
  connection: deps.bullConnection,
  namespace: config.FLEET_NAMESPACE,
  producer: crashingAfter(config.FAULT_INTAKE_CRASH_AFTER_ACCEPTS, deps.producer),
  logger,
  maxMessageBytes: config.MAX_MESSAGE_BYTES,
  batchSize: config.INTAKE_BATCH_SIZE,
  lockDuration: config.JOB_LOCK_MS,
  stalledInterval: config.STALLED_INTERVAL_MS,
  maxStalledCount: config.MAX_STALLED_COUNT,
});

await Promise.all([workers.ready(), reviewWorkers.ready()]);
// One worker at a time resumes users whose turns were left behind (now, every few seconds, and when
// a dependency comes back).
deps.recovery.start();
deps.heartbeat.start();
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
  await Promise.all([workers.close(), reviewWorkers.close(), intake.close()]);
  opsServer?.close();
  await unsubscribe().catch(() => {});
  await deps.close();
  await tracing.shutdown();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
