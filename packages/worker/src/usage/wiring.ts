import {
  type FleetConfig,
  type Logger,
  NO_TENANT,
  quotaEventsChannel,
  type RedisClient,
  type TurnJob,
} from '@agent-fleet/core';
import type { LlmPool, PoolChatRequest, PoolChatResult } from '@agent-fleet/llm';
import { QuotaStore, UsageLedger } from '@agent-fleet/state';
import { FairQueue, type PartitionQueues, QuotaBook, TenantDirectory } from '@agent-fleet/turns';
import type { Pool } from 'pg';
import { FairShare } from '../fair-share.ts';
import type { WorkerMetrics } from '../metrics.ts';
import { UsageMeter } from './meter.ts';
import { QuotaSync } from './quota-sync.ts';
import { TurnMeter, type TurnMeters, withFairShare } from './turn-meter.ts';

/** Slack beyond a call's longest run before its hold lapses. */
const HOLD_SLACK_MS = 30_000;

/** The worker's accounting, budgets and fair share, built once. */
export interface Metering {
  meter: UsageMeter;
  /** A turn's (or a summary's) metering. */
  meters: TurnMeters;
  /** The tenant a turn counts under: its fair-queue tag's, else the directory's. */
  tenants: { of(job: TurnJob): Promise<string> };
  directory: TenantDirectory;
  fairness: FairShare;
  fairQueue: FairQueue;
  ledger: UsageLedger;
  sync: QuotaSync;
  /** The LLM pool as review runs use it: every call held, counted and written to the ledger. */
  reviewLlm: Pick<LlmPool, 'chat'>;
}

export function createMetering(w: {
  config: FleetConfig;
  redis: RedisClient;
  pool: Pool;
  llm: LlmPool;
  partitions: PartitionQueues;
  metrics: WorkerMetrics;
  logger: Logger;
}): Metering {
  const { config, redis, logger } = w;
  const ns = config.FLEET_NAMESPACE;
  const quotas = new QuotaBook({ redis, namespace: ns });
  const meter = new UsageMeter(
    {
      quotas,
      metrics: w.metrics,
      announce: (event) => {
        redis.publish(quotaEventsChannel(ns), JSON.stringify(event)).catch(() => {});
      },
      logger,
    },
    {
      holdTokens: config.QUOTA_CALL_HOLD_TOKENS,
      holdMs: config.LLM_TIMEOUT_MS * config.LLM_MAX_ATTEMPTS + HOLD_SLACK_MS,
    },
  );
  const directory = new TenantDirectory({ redis, namespace: ns });
  const fairQueue = new FairQueue({ redis, namespace: ns, turnTokens: config.FAIR_TURN_TOKENS });
  const ledger = new UsageLedger({ pool: w.pool });
  const onChargeError = (err: unknown) =>
    logger.warn({ err: (err as Error).message }, 'could not count an embeddings request');
  return {
    meter,
    meters: {
      forTurn: (who) => new TurnMeter(meter, w.llm, who, onChargeError, config.QUEUE_ORDER === 'fair'),
    },
    tenants: {
      of: async (job) => job.fair?.tenant ?? (await directory.get(job.userId)) ?? NO_TENANT,
    },
    directory,
    fairness: new FairShare(fairQueue, w.partitions),
    fairQueue,
    ledger,
    sync: new QuotaSync({
      store: new QuotaStore({ pool: w.pool }),
      book: quotas,
      intervalMs: config.QUOTA_SYNC_INTERVAL_MS,
      logger,
    }),
    reviewLlm: {
      chat: (req) =>
        reviewCall({ meter, ledger, llm: w.llm, logger, fairShare: config.QUEUE_ORDER === 'fair' }, req),
    },
  };
}

/** One call of a review run: held, made, counted, and written to the ledger as a row of its own. */
async function reviewCall(
  w: {
    meter: UsageMeter;
    ledger: UsageLedger;
    llm: Pick<LlmPool, 'chat'>;
    logger: Logger;
    /** QUEUE_ORDER=fair: the call shares the model servers' slots fairly by tenant. */
    fairShare: boolean;
  },
  req: PoolChatRequest,
): Promise<PoolChatResult> {
  const { meter, ledger, llm, logger } = w;
  const a = { tenant: req.tenant ?? NO_TENANT, userId: req.userId, kind: 'review' as const };
  const hold = await meter.hold(a, req.signal);
  let result: PoolChatResult;
  try {
    result = await llm.chat(w.fairShare ? withFairShare(req, a.tenant, hold) : req);
  } catch (err) {
    await meter.release(a, hold);
    throw err;
  }
  await meter.settle(a, result, hold);
  await ledger
    .recordCall({
      callId: hold.id,
      kind: 'review',
      model: result.model,
      tenant: a.tenant,
      userId: a.userId,
      promptTokens: result.promptTokens,
      completionTokens: result.completionTokens,
      cachedTokens: result.cachedTokens,
    })
    .catch((err: unknown) =>
      logger.warn({ err: (err as Error).message }, 'could not write a review call to the usage ledger'),
    );
  return result;
}
