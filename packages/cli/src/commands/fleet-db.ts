import { join } from 'node:path';
import { createRedis, envSchema, FleetError, type RedisClient, untilReady } from '@agent-fleet/core';
import { createPool, migrate } from '@agent-fleet/state';
import type { Pool } from 'pg';
import { REPO_ROOT } from '../paths.ts';
import { readStackFile } from '../stack-file.ts';
import { fleetRedisTarget } from './fleet-redis.ts';
import type { Io } from './keys.ts';

/** Time to connect to the fleet's Redis before a command goes ahead. */
const REDIS_CONNECT_MS = 5000;

/** What an operator command works on: the fleet's database, its Redis when reachable, its namespace. */
export interface FleetDb {
  pool: Pool;
  redis: RedisClient | undefined;
  namespace: string;
}

/**
 * Runs `fn` on DATABASE_URL (else the running fleet's database) and, with `redis`,
 * REDIS_CLUSTER_NODES or REDIS_URL (else the running fleet's Redis), in FLEET_NAMESPACE. A command that fails says why on `io` and
 * returns 1.
 */
export async function withFleetDb(
  command: string,
  io: Io,
  fn: (db: FleetDb) => Promise<number>,
  env: Record<string, string | undefined> = process.env,
  opts: {
    redis?: boolean;
    /** How long to wait for Redis before going ahead (5 s by default). */
    redisConnectMs?: number;
    /** What an unexpected failure is called in the message (`error` by default). */
    failure?: string;
  } = {},
): Promise<number> {
  const stack = readStackFile(env.FLEET_DIR ?? join(REPO_ROOT, '.fleet'));
  const databaseUrl = env.DATABASE_URL ?? stack?.databaseUrl;
  if (!databaseUrl || !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    io.err(
      `fleet ${command}: no fleet is running here; start one with \`npm start\` or set DATABASE_URL (postgres://user:password@host:port/database)`,
    );
    return 1;
  }
  let redis: RedisClient | undefined;
  try {
    const target = opts.redis ? fleetRedisTarget(env, stack) : undefined;
    redis = target ? createRedis(target, { role: 'producer' }) : undefined;
  } catch (err) {
    io.err(`fleet ${command}: ${(err as Error).message}`);
    return 1;
  }
  redis?.on('error', () => {});
  const pool = createPool(databaseUrl, 2);
  try {
    await migrate(databaseUrl);
    const namespace = envSchema.shape.FLEET_NAMESPACE.parse(env.FLEET_NAMESPACE);
    // A Redis that does not answer in time fails the command's first write to it, which says so.
    if (redis) await untilReady(redis, opts.redisConnectMs ?? REDIS_CONNECT_MS).catch(() => {});
    return await fn({ pool, redis, namespace });
  } catch (err) {
    const msg =
      err instanceof FleetError ? err.message : `${opts.failure ?? 'error'}: ${(err as Error).message}`;
    io.err(`fleet ${command}: ${msg}`);
    return 1;
  } finally {
    await pool.end();
    redis?.disconnect();
  }
}

/** Rows as a table: columns padded to their widest cell, numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string[] {
  const cells = [
    header,
    ...rows.map((r) => r.map((c) => (typeof c === 'number' ? c.toLocaleString('en-US') : c))),
  ];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  return cells.map((r, line) =>
    r
      .map((c, i) => {
        const numeric = line > 0 && typeof rows[line - 1]![i] === 'number';
        return numeric ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd(),
  );
}
