import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@agent-fleet/core';
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

/** A directory of one run under .fleet/; `remove()` deletes it. */
export interface ThrowawayDir {
  dir: string;
  path(name: string): string;
  remove(): void;
}

/** A fresh directory `.fleet/<prefix>-…` (a unique suffix), for one benchmark or soak run. */
export function throwawayDir(prefix: string): ThrowawayDir {
  mkdirSync(join(ROOT, '.fleet'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.fleet', `${prefix}-`));
  return {
    dir,
    path: (name) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A throwaway directory under .fleet/ (`bench-<label>-…`); `remove()` deletes it. */
export function startBenchDir(label?: string): ThrowawayDir {
  return throwawayDir(label ? `bench-${label}` : 'bench');
}

/**
 * A throwaway Redis and Postgres under .fleet/bench-*, removed when the benchmark ends. Redis
 * fsyncs its AOF as `npm start`'s does (REDIS_APPENDFSYNC, `always` unless set).
 */
export async function startBenchStack(): Promise<BenchStack> {
  const bench = startBenchDir();
  const [redis, pg] = await Promise.all([
    startRedisServer({ dataDir: bench.path('redis'), appendfsync: loadConfig().REDIS_APPENDFSYNC }),
    startPostgres({ dataDir: bench.path('postgres') }),
  ]);
  await pg.createDatabase('bench');
  const databaseUrl = pg.urlFor('bench');
  await migrate(databaseUrl);
  return {
    dir: bench.dir,
    redis,
    pg,
    databaseUrl,
    async stop() {
      await Promise.all([redis.stop(), pg.stop()]);
      bench.remove();
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}
