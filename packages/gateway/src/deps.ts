import {
  createRedis,
  describeRedisTarget,
  type FleetConfig,
  isCluster,
  type Logger,
  type RedisClient,
  redisTargetOf,
  untilReady,
} from '@agent-fleet/core';
import { ServerMonitor } from '@agent-fleet/llm';
import { createRetriever, type Retriever } from '@agent-fleet/rag';
import {
  ReviewEvents,
  ReviewQueues,
  ReviewRuns,
  ReviewScheduleStore,
  ReviewSchedules,
  ReviewStore,
  reviewJobPolicies,
} from '@agent-fleet/review';
import {
  ApiKeyRevocations,
  ApiKeyStore,
  createPool,
  migrate,
  type Profile,
  ProfileStore,
  profileSchema,
  QuotaStore,
  Transcript,
  UsageLedger,
} from '@agent-fleet/state';
import {
  configuredPartitions,
  configuredProducer,
  type PartitionQueues,
  ProfileCache,
  QuotaBook,
  RecoveryReports,
  type StreamFollower,
  StreamPoller,
  StreamReader,
  TenantDirectory,
  TurnControl,
  TurnEvents,
  type TurnProducer,
  TurnRecords,
  WorkBacklog,
  WorkerHeartbeats,
} from '@agent-fleet/turns';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { AdminSessions } from './auth/admin-sessions.ts';
import { type AuthCollaborators, createAuthCollaborators } from './auth/collaborators.ts';
import { createLoadShedder, type LoadShedder } from './auth/load-shedding.ts';
import { FleetView } from './fleet-view.ts';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.ts';
import { StreamSlots } from './stream-slots.ts';

/**
 * Everything the gateway's plugins and routes use, built once at start-up and handed to them
 * through their options: no plugin builds a collaborator of its own.
 */
export interface GatewayDeps {
  config: FleetConfig;
  logger: Logger;
  redis: RedisClient;
  pool: Pool;
  partitions: PartitionQueues;
  producer: TurnProducer;
  records: TurnRecords;
  transcript: Transcript;
  profiles: ProfileStore;
  /** Profiles through the Redis cache the workers share (the messages route reads settings from it). */
  profileCache: ProfileCache<Profile>;
  /** Which tenant each user counts under (noted when a profile is written or read). */
  directory: TenantDirectory;
  /** Quotas in Postgres (the durable copy) and in Redis (where the checks read them). */
  quotas: QuotaStore;
  budgets: QuotaBook;
  /** Token usage recorded in Postgres, for reports. */
  ledger: UsageLedger;
  retriever: Retriever;
  metrics: GatewayMetrics;
  /** The fleet's queues, workers, LLM servers and running turns, for the admin view. */
  fleet: FleetView;
  /** 429 on message-accepting routes while the fleet's backlog is over SHED_BACKLOG. */
  shedder: LoadShedder;
  /** Health checks of LLM_BASE_URLS every LLM_HEALTH_INTERVAL_MS, for readiness. */
  llmHealth: ServerMonitor;
  /** API keys, user tokens, rate limits, sign-in throttling: for the auth plugin and the admin sign-in. */
  auth: AuthCollaborators;
  /** Browser sessions of the admin UI (Bull Board). */
  sessions: AdminSessions;
  /** Turns' live events; the SSE routes tail them through one shared reader (see `liveEvents`). */
  events: TurnEvents;
  /** Event streams open per principal (MAX_STREAMS_PER_PRINCIPAL). */
  streams: StreamSlots;
  /** Cancelling turns. */
  control: TurnControl;
  /** Review runs: created, read, cancelled and resumed here, run by the workers. */
  reviews: ReviewRuns;
  /** Review schedules: created with their first run, read and removed here, fired by BullMQ job schedulers. */
  reviewSchedules: ReviewSchedules;
  reviewQueues: ReviewQueues;
  reviewEvents: ReviewEvents;
  close(): Promise<void>;
}

/** Connect to Redis and Postgres, migrate, and wire the gateway's collaborators. */
export async function createGatewayDeps(config: FleetConfig, logger: Logger): Promise<GatewayDeps> {
  const ns = config.FLEET_NAMESPACE;
  const redis = await connectRedis(config, logger, 'producer');
  const queues = await connectRedis(config, logger, 'producer-queues');
  const pool = createPool(config.DATABASE_URL, 10);
  await migrate(config.DATABASE_URL, logger);
  const partitions = configuredPartitions(config, queues);
  const transcript = new Transcript({ pool });
  const profiles = new ProfileStore({ pool });
  const records = new TurnRecords({ redis, namespace: ns, ttlSeconds: config.TURN_RECORD_TTL_SECONDS });
  const live = liveEvents(config, redis, logger);
  const keys = await keyAuth(config, pool, redis, logger);
  const streams = new StreamSlots({ perPrincipal: config.MAX_STREAMS_PER_PRINCIPAL });
  const backlog = new WorkBacklog({ connection: queues, namespace: ns, partitions: config.PARTITIONS });
  const shedder = createLoadShedder({ measure: () => backlog.total(), limit: config.SHED_BACKLOG, logger });
  const llmHealth = new ServerMonitor({
    urls: config.LLM_BASE_URLS,
    intervalMs: config.LLM_HEALTH_INTERVAL_MS,
  });
  await llmHealth.start();
  const reviewQueues = new ReviewQueues({
    connection: queues,
    namespace: ns,
    policies: reviewJobPolicies(config),
  });
  const reviewEvents = new ReviewEvents({ redis, namespace: ns, follower: live.reader });
  const reviewSchedules = new ReviewSchedules({
    store: new ReviewScheduleStore({ pool }),
    queues: reviewQueues,
  });
  const fleet = new FleetView({
    backlog,
    heartbeats: new WorkerHeartbeats({ redis, namespace: ns }),
    reports: new RecoveryReports({ redis, namespace: ns }),
  });
  const profileCache = new ProfileCache({
    redis,
    namespace: ns,
    schema: profileSchema,
    store: { get: (userId: string) => profiles.resolve(userId, config.DEFAULT_TENANT) },
    tenantOf: (profile) => profile.tenant,
  });
  return {
    config,
    logger,
    redis,
    pool,
    partitions,
    records,
    producer: configuredProducer(config, {
      redis,
      partitions,
      records,
      transcript: transcript,
      profiles: profileCache,
    }),
    transcript,
    profiles,
    profileCache,
    directory: new TenantDirectory({ redis, namespace: ns }),
    quotas: new QuotaStore({ pool }),
    budgets: new QuotaBook({ redis, namespace: ns }),
    ledger: new UsageLedger({ pool }),
    retriever: await createRetriever(config, pool, { logger }),
    metrics: createGatewayMetrics(
      backlog,
      { open: () => streams.open, followed: () => live.reader.streams },
      { redisMemory: () => redisMemory(redis), recovery: () => fleet.recovery() },
    ),
    fleet,
    shedder,
    llmHealth,
    auth: keys.auth,
    sessions: new AdminSessions({ redis, namespace: ns }),
    events: live.events,
    streams,
    control: new TurnControl({ redis, namespace: ns }),
    reviews: new ReviewRuns({
      store: new ReviewStore({ pool }),
      queues: reviewQueues,
      events: reviewEvents,
      schedules: reviewSchedules,
    }),
    reviewSchedules,
    reviewQueues,
    reviewEvents,
    async close() {
      shedder.close();
      llmHealth.close();
      await keys.close();
      live.close();
      await Promise.all([partitions.close(), backlog.close()]);
      await reviewQueues.close();
      await pool.end();
      queues.disconnect();
      redis.disconnect();
    },
  };
}

/**
 * The gateway's main connection (`producer`), or the one of its BullMQ queues (`producer-queues`):
 * both fail fast while Redis is away (the caller gets a 503).
 */
async function connectRedis(
  config: FleetConfig,
  logger: Logger,
  role: 'producer' | 'producer-queues',
): Promise<RedisClient> {
  const name = `${config.FLEET_NAMESPACE}:gateway${role === 'producer' ? '' : ':queues'}`;
  const redis = logErrors(createRedis(redisTargetOf(config), { role, name }), name, logger);
  await untilReady(redis).catch(() => {
    throw new Error(`cannot connect to ${describeRedisTarget(redisTargetOf(config))}`);
  });
  return redis;
}

/**
 * Redis's `used_memory` and `maxmemory` (INFO memory); on a cluster, the master nearest its limit,
 * the first whose writes would fail.
 */
async function redisMemory(redis: RedisClient): Promise<{ used: number; max: number }> {
  const nodes = isCluster(redis) ? redis.nodes('master') : [redis];
  const readings = await Promise.all(
    nodes.map(async (node) => {
      const info = await node.info('memory');
      const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      return { used: field('used_memory'), max: field('maxmemory') };
    }),
  );
  const fill = (m: { used: number; max: number }) => (m.max > 0 ? m.used / m.max : 0);
  return readings.reduce((a, b) => (fill(b) > fill(a) ? b : a));
}

/**
 * Turn events, tailed for every open SSE response without a connection per response: on one Redis
 * over one blocking connection (`StreamReader`), on a cluster by polling through the main one
 * (`StreamPoller`, since one blocking read cannot span slots).
 */
function liveEvents(config: FleetConfig, redis: RedisClient, logger: Logger) {
  const ns = config.FLEET_NAMESPACE;
  const onError = (err: Error) =>
    logger.warn({ err: err.message }, 'turn event reader: read failed; retrying');
  const target = redisTargetOf(config);
  let reader: StreamFollower;
  let conn: Redis | undefined;
  if ('url' in target && !isCluster(redis)) {
    const name = `${ns}:gateway:events`;
    conn = logErrors(createRedis(target, { role: 'blocking', name }), name, logger);
    reader = new StreamReader({ connection: conn, control: redis, onError });
  } else reader = new StreamPoller({ redis, onError });
  return {
    reader,
    events: new TurnEvents({ redis, namespace: ns, reader }),
    close() {
      reader.close();
      conn?.disconnect();
    },
  };
}

/** API keys, tokens and rate limits, with revocations followed so cached keys end at once. */
async function keyAuth(config: FleetConfig, pool: Pool, redis: RedisClient, logger: Logger) {
  const ns = config.FLEET_NAMESPACE;
  const revocations = new ApiKeyRevocations({ redis, namespace: ns });
  const auth = createAuthCollaborators(config, {
    pool,
    redis,
    apiKeys: new ApiKeyStore({ pool, revocations }),
    logger,
  });
  const name = `${ns}:gateway:revocations`;
  const subscriber = logErrors(
    createRedis(redisTargetOf(config), { role: 'subscriber', name }),
    name,
    logger,
  );
  const stop = await revocations.follow(subscriber, {
    onRevoked: (keyId) => auth.keys.drop(keyId),
    onResubscribed: () => auth.keys.clear(),
    onError: (err) => logger.warn({ err: err.message }, 'cannot follow API key revocations'),
  });
  return {
    auth,
    async close() {
      await stop();
      subscriber.disconnect();
    },
  };
}

/** Logs the errors of a connection named `name` (CLIENT LIST shows the name too). */
function logErrors<T extends RedisClient>(conn: T, name: string, logger: Logger): T {
  conn.on('error', (err: Error) =>
    logger.warn({ err: err.message, connection: name }, 'redis connection error'),
  );
  return conn;
}
