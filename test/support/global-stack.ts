import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres, startRedisServer } from '@agent-fleet/devstack';
import { prepareWordVectors } from '@agent-fleet/rag';
import { migrate } from '@agent-fleet/state';
import type { TestProject } from 'vitest/node';
import './stack.ts';

export const TEMPLATE_DB = 'fleet_template';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Start Redis and Postgres once per test run (under .fleet/, removed afterwards) and migrate a
 * template database that each test clones.
 */
export default async function setup(project: TestProject) {
  mkdirSync(join(root, '.fleet'), { recursive: true });
  const dir = mkdtempSync(join(root, '.fleet', 'test-'));
  // The local embedder's table is built once here (when missing), so no test process streams the
  // package's JSON: each one that embeds reads the 20 MB table.
  const [redis, pg] = await Promise.all([
    // Tests never SIGKILL this shared Redis: fsyncing every write would only slow them down.
    startRedisServer({ dataDir: join(dir, 'redis'), appendfsync: 'everysec' }),
    startPostgres({ dataDir: join(dir, 'postgres') }),
    prepareWordVectors(),
  ]);
  await pg.createDatabase(TEMPLATE_DB);
  await migrate(pg.urlFor(TEMPLATE_DB));
  project.provide('stack', {
    redisUrl: redis.url,
    postgresUrl: pg.url,
    templateDb: TEMPLATE_DB,
  });
  return async () => {
    await Promise.all([redis.stop(), pg.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
}
