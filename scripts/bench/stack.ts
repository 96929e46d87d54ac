import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type PostgresHandle,
  type RedisServerHandle,
  startPostgres,
  startRedisServer,
} from '@agent-fleet/devstack';
import { migrate } from '@agent-fleet/state';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCRIPTS = {
  gateway: join(ROOT, 'packages/gateway/src/main.ts'),
  worker: join(ROOT, 'packages/worker/src/main.ts'),
  llmSim: join(ROOT, 'packages/llm-sim/src/main.ts'),
};

export interface BenchStack {
  dir: string;
  redis: RedisServerHandle;
  pg: PostgresHandle;
  databaseUrl: string;
  stop(): Promise<void>;
}

/** A throwaway Redis and Postgres under .fleet/bench-*, removed when the benchmark ends. */
export async function startBenchStack(): Promise<BenchStack> {
  mkdirSync(join(ROOT, '.fleet'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.fleet', 'bench-'));
  const [redis, pg] = await Promise.all([
    startRedisServer({ dataDir: join(dir, 'redis') }),
    startPostgres({ dataDir: join(dir, 'postgres') }),
  ]);
  await pg.createDatabase('bench');
  const databaseUrl = pg.urlFor('bench');
  await migrate(databaseUrl);
  return {
    dir,
    redis,
    pg,
    databaseUrl,
    async stop() {
      await Promise.all([redis.stop(), pg.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}
