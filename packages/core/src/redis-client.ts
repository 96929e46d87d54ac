import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { FleetConfig } from './config.ts';
import { FleetError } from './errors.ts';
import {
  type ClusterNodeAddress,
  type RedisClusterConfig,
  redisClusterNodesSchema,
} from './redis-cluster-nodes.ts';

/**
 * A connection to the fleet's Redis: one server, or a Redis Cluster whose client routes each
 * command to the master of its key's slot. Every key the fleet writes is hash-tagged
 * (`keys.ts`), so each command and script touches one slot and works the same on both.
 */
export type RedisClient = Redis | Cluster;

/**
 * Where the fleet's Redis is: one server (a `redis://` URL, or ioredis options for it), or some
 * nodes of a cluster.
 */
export type RedisTarget =
  | { url: string }
  | { options: RedisOptions }
  | {
      clusterNodes: readonly ClusterNodeAddress[];
      username?: string;
      password?: string;
      /** Every connection over TLS, certificates checked against the nodes' names. */
      tls?: boolean;
    };

/**
 * What a connection is for, which decides how it behaves while Redis is away:
 * - `producer`: accepts work for a caller who is waiting (gateway, SDK, CLI); commands fail at
 *   once, no offline queue, so the caller gets "try again" (503) instead of a hang.
 * - `producer-queues`: a producer's BullMQ queues; fails fast like `producer`, without
 *   auto-pipelining: BullMQ defines its scripts on its connection, and ioredis copies every defined
 *   script onto each auto-pipelined batch it builds, which costs more than the round trips it saves.
 * - `worker`: a worker's own commands; waits out outages and failovers (queued and retried).
 * - `queue`: BullMQ's connection for Workers and QueueEvents (`maxRetriesPerRequest: null`, as
 *   BullMQ requires); BullMQ duplicates it for its blocking reads.
 * - `blocking`: held by one blocking read; a read cut by a reconnection is not resent (the reader
 *   sends it again, knowing the new connection).
 * - `subscriber`: pub/sub; resubscribes after reconnecting.
 * Commands are auto-pipelined for `producer` and `worker` on one server: concurrent requests share
 * round trips (not on a cluster, see `createRedis`).
 */
export type RedisRole = 'producer' | 'producer-queues' | 'worker' | 'queue' | 'blocking' | 'subscriber';

export interface CreateRedisOptions {
  role: RedisRole;
  /** CLIENT SETNAME of every connection, so CLIENT LIST shows whose it is. */
  name?: string;
  /** Connect on the first command (or `connect()`) instead of at once. */
  lazy?: boolean;
}

interface RolePolicy {
  failFast: boolean;
  autoPipelining: boolean;
  /** Options of each server connection. */
  connection: RedisOptions;
}

const ROLES: Record<RedisRole, RolePolicy> = {
  producer: { failFast: true, autoPipelining: true, connection: { maxRetriesPerRequest: 1 } },
  'producer-queues': { failFast: true, autoPipelining: false, connection: { maxRetriesPerRequest: 1 } },
  worker: { failFast: false, autoPipelining: true, connection: { maxRetriesPerRequest: null } },
  queue: { failFast: false, autoPipelining: false, connection: { maxRetriesPerRequest: null } },
  blocking: {
    failFast: false,
    autoPipelining: false,
    connection: { maxRetriesPerRequest: null, autoResendUnfulfilledCommands: false },
  },
  subscriber: { failFast: false, autoPipelining: false, connection: { maxRetriesPerRequest: null } },
};

/**
 * How many times a cluster command is sent again while its slot has no reachable master (MOVED to
 * a dead node, CLUSTERDOWN, a closed connection), ~100 ms apart: a producer gives up after about
 * 1.5 s (the caller gets 503), every other role waits out a failover of up to ~20 s.
 */
const FAIL_FAST_REDIRECTIONS = 16;
const RIDE_OUT_REDIRECTIONS = 200;

/** REDIS_CLUSTER_NODES when set, else REDIS_URL. */
export function redisTargetOf(config: Pick<FleetConfig, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>): RedisTarget {
  const cluster = config.REDIS_CLUSTER_NODES;
  return cluster ? clusterTarget(cluster) : { url: config.REDIS_URL };
}

function clusterTarget(c: RedisClusterConfig): RedisTarget {
  return { clusterNodes: c.nodes, username: c.username, password: c.password, tls: c.tls };
}

/** The cluster a REDIS_CLUSTER_NODES value names; a bad value is `invalid_config` naming the entry. */
export function clusterTargetOf(value: string): RedisTarget {
  const parsed = redisClusterNodesSchema.safeParse(value);
  if (parsed.success) return clusterTarget(parsed.data);
  throw new FleetError('invalid_config', `REDIS_CLUSTER_NODES: ${parsed.error.issues[0]?.message}`);
}

/** What the target names, for messages: the URL, or the cluster's nodes. */
export function describeRedisTarget(target: RedisTarget): string {
  if ('url' in target) return target.url;
  if ('options' in target) return `${target.options.host ?? '127.0.0.1'}:${target.options.port ?? 6379}`;
  return `cluster ${target.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
}

/**
 * The one way the fleet connects to Redis: a `Redis` for a URL, a `Cluster` for cluster nodes,
 * configured for `role`. Cluster clients read from masters only (`scaleReads: 'master'`): the turn
 * protocol reads what it just wrote, which a replica may not have yet.
 */
export function createRedis(
  target: { url: string } | { options: RedisOptions },
  opts: CreateRedisOptions,
): Redis;
export function createRedis(target: RedisTarget, opts: CreateRedisOptions): RedisClient;
export function createRedis(target: RedisTarget, opts: CreateRedisOptions): RedisClient {
  const policy = ROLES[opts.role];
  const connection: RedisOptions = {
    ...policy.connection,
    ...(opts.name ? { connectionName: opts.name } : {}),
  };
  const lazy = opts.lazy ? { lazyConnect: true } : {};
  if (!('clusterNodes' in target)) {
    const options: RedisOptions = {
      ...connection,
      ...lazy,
      enableOfflineQueue: !policy.failFast,
      enableAutoPipelining: policy.autoPipelining,
    };
    return 'url' in target ? new Redis(target.url, options) : new Redis({ ...options, ...target.options });
  }
  const options: ClusterOptions = {
    ...lazy,
    redisOptions: {
      ...connection,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
    // With TLS, nodes are reached by the names they announce, so certificates match them.
    ...(target.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    scaleReads: 'master',
    enableOfflineQueue: !policy.failFast,
    // Never on a cluster: ioredis retries a redirected batch only when every command in it got the
    // same redirection, so during a failover commands of different slots fail with MOVED.
    enableAutoPipelining: false,
    maxRedirections: policy.failFast ? FAIL_FAST_REDIRECTIONS : RIDE_OUT_REDIRECTIONS,
  };
  return new Cluster(
    target.clusterNodes.map((n) => ({ host: n.host, port: n.port })),
    options,
  );
}

/** Whether `client` talks to a Redis Cluster (any copy of ioredis). */
export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster;
}

/**
 * Resolves once `client` is connected and ready (connecting a lazy one); rejects with `unavailable`
 * when its connection ends for good, or after `timeoutMs` when given.
 */
export function untilReady(client: RedisClient, timeoutMs?: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'wait') void client.connect().catch(() => {});
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      cleanup();
      reject(new FleetError('unavailable', `cannot connect to Redis: ${why}`));
    };
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => fail('connection closed');
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => fail(`no connection in ${timeoutMs} ms`), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
    };
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}
