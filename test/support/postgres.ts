import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { freshDatabase } from './stack.ts';

/** A pool of at most `max` connections on a database of its own, cloned from the migrated template. */
export async function freshPool(max = 4): Promise<pg.Pool> {
  return new pg.Pool({ connectionString: await freshDatabase(), max });
}

/**
 * A database of its own for the tests of the enclosing file or `describe`. Before them, the returned
 * object gets the `pool` and what `open` builds on it (the stores under test); the pool ends after
 * them.
 */
export function onFreshDatabase<T extends object>(
  open: (pool: pg.Pool) => T | Promise<T>,
  max = 4,
): T & { pool: pg.Pool } {
  const db = {} as T & { pool: pg.Pool };
  beforeAll(async () => {
    const pool = await freshPool(max);
    Object.assign(db, { pool }, await open(pool));
  });
  afterAll(async () => {
    await db.pool?.end();
  });
  return db;
}
