import type { FleetConfig, Logger } from '@agent-fleet/core';
import { ServerMonitor } from '@agent-fleet/llm';
import { createRetriever, type Retriever } from '@agent-fleet/rag';
import {
  ApiKeyRevocations,
  ApiKeyStore,
  createPool,
  migrate,
  type Profile,
  ProfileStore,
  profileSchema,
  Transcript,
} from '@agent-fleet/state';
import {
  PartitionQueues,
  ProfileCache,
  StreamReader,
  TurnControl,
  TurnEvents,
  TurnProducer,
  TurnRecords,
} from '@agent-fleet/turns';
import { Redis, type RedisOptions } from 'ioredis';
import type { Pool } from 'pg';
import { AdminSessions } from './auth/admin-sessions.ts';
import { type AuthCollaborators, createAuthCollaborators } from './auth/collaborators.ts';
import { createLoadShedder, type LoadShedder } from './auth/load-shedding.ts';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.ts';
import { StreamSlots } from './stream-slots.ts';

/**
 * Everything the gateway's plugins and routes use, built once at start-up and handed to them
 * through their options: no plugin builds a collaborator of its own.
 */
export interface GatewayDeps {
  config: FleetConfig;
  logger: Logger;
  redis: Redis;
  pool: Pool;
  partitions: PartitionQueues;
  producer: TurnProducer;
  records: TurnRecords;
  transcript: Transcript;
  profiles: ProfileStore;
  /** Profiles through the Redis cache the workers share (the messages route reads settings from it). */
  profileCache: ProfileCache<Profile>;
  retriever: Retriever;
  metrics: GatewayMetrics;
  /** 429 on message-accepting routes while the partition backlog is over SHED_BACKLOG. */
  shedder: LoadShedder;
  /** Health checks of LLM_BASE_URLS every LLM_HEALTH_INTERVAL_MS, for readiness. */
  llmHealth: ServerMonitor;
  /** API keys, user tokens, rate limits and sign-in throttling: what the auth plugin and the admin sign-in work with. */
  auth: AuthCollaborators;
  /** Browser sessions of the admin UI (Bull Board). */
  sessions: AdminSessions;
  /** Turns' live events; the SSE routes tail them through one shared blocking reader. */
  events: TurnEvents;
  /** Event streams open per principal (MAX_STREAMS_PER_PRINCIPAL). */
  streams: StreamSlots;
  /** Cancelling turns. */
  control: TurnControl;
  close(): Promise<void>;
}

/** Connect to Redis and Postgres, migrate, and wire the gateway's collaborators. */
export async function createGatewayDeps(config: FleetConfig, logger: Logger): Promise<GatewayDeps> {
  // Producers fail fast instead of queueing commands while Redis is away: the caller gets a 503.
  const ns = config.FLEET_NAMESPACE;
  const redis = new Redis(config.REDIS_URL, {
    connectionName: `${ns}:gateway`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
  });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('end', () => reject(new Error(`cannot connect to Redis at ${config.REDIS_URL}`)));
  });
  const pool = createPool(config.DATABASE_URL, 10);
  await migrate(config.DATABASE_URL, logger);
  const partitions = new PartitionQueues({
    connection: redis,
    namespace: ns,
    partitions: config.PARTITIONS,
    policy: { attempts: config.TURN_ATTEMPTS, backoffMs: config.TURN_BACKOFF_MS },
  });
  const transcript = new Transcript({ pool });
  const profiles = new ProfileStore({ pool });
  const records = new TurnRecords({ redis, namespace: ns, ttlSeconds: config.TURN_RECORD_TTL_SECONDS });
  // One blocking connection follows the event streams of every open SSE response.
  const readerConnection = connection(redis, `${ns}:gateway:events`, logger, {
    autoResendUnfulfilledCommands: false,
  });
  const reader = new StreamReader({
    connection: readerConnection,
    control: redis,
    onError: (err) => logger.warn({ err: err.message }, 'turn event reader: read failed; retrying'),
  });
  const streams = new StreamSlots({ perPrincipal: config.MAX_STREAMS_PER_PRINCIPAL });
  const shedder = createLoadShedder({ queues: partitions.queues, limit: config.SHED_BACKLOG, logger });
  const llmHealth = new ServerMonitor({
    urls: config.LLM_BASE_URLS,
    intervalMs: config.LLM_HEALTH_INTERVAL_MS,
  });
  await llmHealth.start();
  const revocations = new ApiKeyRevocations({ redis, namespace: ns });
  const auth = createAuthCollaborators(config, {
    pool,
    redis,
    apiKeys: new ApiKeyStore({ pool, revocations }),
    logger,
  });
  const subscriber = connection(redis, `${ns}:gateway:revocations`, logger, { autoResubscribe: false });
  const stopRevocations = await revocations.follow(subscriber, {
    onRevoked: (keyId) => auth.keys.drop(keyId),
    onResubscribed: () => auth.keys.clear(),
    onError: (err) => logger.warn({ err: err.message }, 'cannot follow API key revocations'),
  });
  return {
    config,
    logger,
    redis,
    pool,
    partitions,
    records,
    producer: new TurnProducer({
      redis,
      namespace: ns,
      partitions,
      records,
      idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
      recordTtlSeconds: config.TURN_RECORD_TTL_SECONDS,
      seqFloor: (userId) => transcript.maxSeq(userId),
    }),
    transcript,
    profiles,
    profileCache: new ProfileCache({
      redis,
      namespace: ns,
      schema: profileSchema,
      store: { get: (userId: string) => profiles.resolve(userId, config.DEFAULT_TENANT) },
    }),
    retriever: await createRetriever(config, pool, { logger }),
    metrics: createGatewayMetrics(partitions, {
      open: () => streams.open,
      followed: () => reader.streams,
    }),
    shedder,
    llmHealth,
    auth,
    sessions: new AdminSessions({ redis, namespace: ns }),
    events: new TurnEvents({ redis, namespace: ns, reader }),
    streams,
    control: new TurnControl({ redis, namespace: ns }),
    async close() {
      shedder.close();
      llmHealth.close();
      await stopRevocations();
      subscriber.disconnect();
      reader.close();
      readerConnection.disconnect();
      await partitions.close();
      await pool.end();
      redis.disconnect();
    },
  };
}

/**
 * A connection of its own beside `redis` (subscriptions and blocking reads hold theirs), named so
 * that CLIENT LIST shows whose it is; it queues commands until connected and rides out outages.
 */
function connection(redis: Redis, name: string, logger: Logger, opts: RedisOptions = {}): Redis {
  const conn = redis.duplicate({
    ...opts,
    connectionName: name,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
  });
  conn.on('error', (err) => logger.warn({ err: err.message, connection: name }, 'redis connection error'));
  return conn;
}
