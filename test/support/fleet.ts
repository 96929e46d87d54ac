import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  clusterTargetOf,
  createRedis,
  isFinalStatus,
  type RedisClient,
  type RedisTarget,
  type TurnStatus,
  untilReady,
} from '@agent-fleet/core';
import { type RedisClusterHandle, type ServiceHandle, spawnService } from '@agent-fleet/devstack';
import pg from 'pg';
import { crossSlotRefusals, freshDatabase, freshNamespace, redisEnv } from './stack.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPTS = {
  gateway: join(root, 'packages/gateway/src/main.ts'),
  worker: join(root, 'packages/worker/src/main.ts'),
};

export { mapLimit } from './map-limit.ts';
export { FAST_RECOVERY_ENV } from './recovery-env.ts';

export interface TestFleet {
  gatewayUrl: string;
  namespace: string;
  databaseUrl: string;
  env: Record<string, string>;
  /** The project's Redis (a cluster client in `e2e-cluster`). */
  redis: RedisClient;
  pool: pg.Pool;
  workers: ServiceHandle[];
  addWorker(extraEnv?: Record<string, string>): ServiceHandle;
  /** Another gateway process on the same Redis, namespace and database; resolves to its URL. */
  addGateway(extraEnv?: Record<string, string>): Promise<string>;
  /** Resolves once every worker started so far takes jobs. */
  workersReady(): Promise<void>;
  /** Stops its processes; on a cluster, fails if a node refused a command with CROSSSLOT meanwhile. */
  stop(): Promise<void>;
}

/**
 * A gateway process and worker processes on the shared test Redis (own namespace; the Redis
 * Cluster in the `e2e-cluster` project) and a fresh database, talking to the LLM server at `llmUrl`.
 */
export async function startTestFleet(opts: {
  llmUrl: string;
  workers: number;
  env?: Record<string, string>;
  /** Another Redis Cluster than the project's (a test that kills its nodes runs one of its own). */
  cluster?: RedisClusterHandle;
}): Promise<TestFleet> {
  const namespace = freshNamespace();
  const databaseUrl = await freshDatabase();
  const logDir = join(root, '.fleet', 'test-logs', namespace);
  mkdirSync(logDir, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...(opts.cluster ? { REDIS_CLUSTER_NODES: opts.cluster.nodeList } : redisEnv()),
    DATABASE_URL: databaseUrl,
    FLEET_NAMESPACE: namespace,
    LLM_BASE_URLS: opts.llmUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    AUTH_MODE: 'off',
    ...opts.env,
  };
  const gateways: ServiceHandle[] = [];
  const addGateway = async (extraEnv: Record<string, string> = {}) => {
    const g = spawnService({
      name: `gateway-${gateways.length}`,
      script: SCRIPTS.gateway,
      env: { ...env, ...extraEnv },
      readyEvent: 'listening',
      logFile: join(logDir, gateways.length === 0 ? 'gateway.log' : `gateway-${gateways.length}.log`),
    });
    gateways.push(g);
    return (await g.ready)!.url;
  };
  const gatewayUrl = await addGateway();
  const workers: ServiceHandle[] = [];
  let n = 0;
  const addWorker = (extraEnv: Record<string, string> = {}) => {
    const w = spawnService({
      name: `worker-${n}`,
      script: SCRIPTS.worker,
      env: { ...env, ...extraEnv },
      logFile: join(logDir, `worker-${n++}.log`),
      readyEvent: 'ready',
    });
    workers.push(w);
    return w;
  };
  for (let i = 0; i < opts.workers; i++) addWorker();
  const redis = createRedis(redisTargetOfEnv(env), { role: 'worker' });
  // A test may stop its own Redis under the fleet: this client waits for it like the workers do.
  redis.on('error', () => {});
  await untilReady(redis, 10_000);
  const crossSlotBefore = await crossSlotRefusals(redis);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  return {
    gatewayUrl,
    namespace,
    databaseUrl,
    env,
    redis,
    pool,
    workers,
    addWorker,
    addGateway,
    async workersReady() {
      await Promise.all(workers.map((w) => w.ready));
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop(8000)));
      await Promise.all(gateways.map((g) => g.stop()));
      const refused = (await crossSlotRefusals(redis)) - crossSlotBefore;
      await pool.end();
      redis.disconnect();
      if (refused > 0)
        throw new Error(`the cluster refused ${refused} commands with CROSSSLOT while the fleet ran`);
    },
  };
}

/** The Redis a fleet's processes use, from their environment (the cluster when one is named). */
function redisTargetOfEnv(env: Record<string, string>): RedisTarget {
  const nodes = env.REDIS_CLUSTER_NODES;
  return nodes ? clusterTargetOf(nodes) : { url: env.REDIS_URL! };
}

export async function postMessage(
  gatewayUrl: string,
  userId: string,
  text: string,
  headers: Record<string, string> = {},
): Promise<{ turnId: string; seq: number; status: string }> {
  const res = await fetch(`${gatewayUrl}/v1/users/${encodeURIComponent(userId)}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ text }),
  });
  const body = (await res.json()) as { turnId: string; seq: number; status: string };
  if (res.status !== 202)
    throw new Error(`POST message for ${userId} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/** Poll until `check` returns true or the deadline passes (then throw with `describe()`). */
export async function waitFor(
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; describe?: () => Promise<string> | string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
  throw new Error(`timed out after ${opts.timeoutMs} ms${opts.describe ? `: ${await opts.describe()}` : ''}`);
}

/** A turn as `GET /v1/turns/:turnId` reports it. */
export interface TurnView {
  status: TurnStatus;
  seq?: number;
  reply?: string;
  error?: string;
  attempts?: number;
  citations?: { docId: string; title: string; section: string }[];
}

export async function getTurn(gatewayUrl: string, turnId: string): Promise<TurnView> {
  return (await (await fetch(`${gatewayUrl}/v1/turns/${turnId}`)).json()) as TurnView;
}

/** Wait until the turn is final (completed, failed, cancelled or interrupted), and return it. */
export async function settledTurn(gatewayUrl: string, turnId: string, timeoutMs = 20_000): Promise<TurnView> {
  let turn: TurnView | undefined;
  await waitFor(
    async () => {
      turn = await getTurn(gatewayUrl, turnId);
      return isFinalStatus(turn.status);
    },
    { timeoutMs, intervalMs: 20 },
  );
  return turn!;
}
