import type { FleetConfig, Logger } from '@agent-fleet/core';
import type { Transcript } from '@agent-fleet/state';
import type { PartitionQueues, TurnProducer, TurnRecords } from '@agent-fleet/turns';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { GatewayMetrics } from './metrics.ts';

/** Everything the gateway's routes use, built once by main.ts (or a test). */
export interface GatewayDeps {
  config: FleetConfig;
  logger: Logger;
  redis: Redis;
  pool: Pool;
  partitions: PartitionQueues;
  producer: TurnProducer;
  records: TurnRecords;
  transcript: Transcript;
  metrics: GatewayMetrics;
}
