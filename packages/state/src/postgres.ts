import { fileURLToPath } from 'node:url';
import type { Logger } from '@agent-fleet/core';
import { runner } from 'node-pg-migrate';
import pg from 'pg';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

export function createPool(databaseUrl: string, max = 10): pg.Pool {
  // A server that does not answer (a partition, not a refusal) fails a query in 10 s instead of never.
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client that loses its server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}

/**
 * Bring the schema up to date. Safe to run from every process at start: node-pg-migrate takes an
 * advisory lock (a process that finds it taken waits and tries again), and applied migrations are
 * skipped.
 */
export async function migrate(databaseUrl: string, logger?: Logger, timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await migrateOnce(databaseUrl, logger);
    } catch (err) {
      if (!/Another migration is already running/.test((err as Error).message) || Date.now() > deadline)
        throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
}

async function migrateOnce(databaseUrl: string, logger?: Logger): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'fleet_migrations',
    count: Number.POSITIVE_INFINITY,
    verbose: false,
    logger: {
      debug: () => {},
      info: (msg: string) => logger?.debug(msg),
      warn: (msg: string) => logger?.warn(msg),
      error: (msg: string) => logger?.error(msg),
    },
  });
  return applied.map((m) => m.name);
}
