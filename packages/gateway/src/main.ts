import { createLogger, type FleetConfig, loadConfig } from '@agent-fleet/core';
import { createPool, migrate, Transcript } from '@agent-fleet/state';
import { PartitionQueues, TurnProducer, TurnRecords } from '@agent-fleet/turns';
import { Redis } from 'ioredis';
import { buildGateway } from './app.ts';
import { BULL_BOARD_PATH } from './bull-board.ts';
import { createGatewayMetrics } from './metrics.ts';

const logger = createLogger('gateway');

function readConfig(): FleetConfig {
  try {
    return loadConfig();
  } catch (err) {
    process.stderr.write(`gateway: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

const config = readConfig();
// Producers fail fast instead of queueing commands while Redis is away: the caller gets a 503.
const redis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
await new Promise<void>((resolve, reject) => {
  redis.once('ready', resolve);
  redis.once('end', () => reject(new Error(`cannot connect to Redis at ${config.REDIS_URL}`)));
});
const pool = createPool(config.DATABASE_URL, 10);
await migrate(config.DATABASE_URL, logger);

const partitions = new PartitionQueues({
  connection: redis,
  namespace: config.FLEET_NAMESPACE,
  partitions: config.PARTITIONS,
  policy: { attempts: config.TURN_ATTEMPTS, backoffMs: config.TURN_BACKOFF_MS },
});
const records = new TurnRecords({ redis, namespace: config.FLEET_NAMESPACE, ttlSeconds: config.TURN_RECORD_TTL_SECONDS });
const app = await buildGateway({
  config,
  logger,
  redis,
  pool,
  partitions,
  records,
  producer: new TurnProducer({
    redis,
    namespace: config.FLEET_NAMESPACE,
    partitions,
    records,
    idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
  }),
  transcript: new Transcript({ pool }),
  metrics: createGatewayMetrics(partitions),
});

const address = await app.listen({ host: config.HOST, port: config.PORT });
const port = app.server.address() && typeof app.server.address() === 'object' ? (app.server.address() as { port: number }).port : config.PORT;
process.stdout.write(`${JSON.stringify({ event: 'listening', url: address, port, bullBoard: BULL_BOARD_PATH })}\n`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await app.close();
  await partitions.close();
  await pool.end();
  redis.disconnect();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
