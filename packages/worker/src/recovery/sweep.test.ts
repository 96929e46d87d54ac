import { createLogger, type RecoveryReport } from '@agent-fleet/core';
import type { IndexedUser } from '@agent-fleet/turns';
import { describe, expect, it } from 'vitest';
import type { RepairResult } from './repair.ts';
import { RecoverySweep } from './sweep.ts';

const logger = createLogger('sweep-test', 'silent');

/** A sweep over an in-memory index (partition -> users), a lock, and repairs answered by `results`. */
function sweep(
  index: Record<number, IndexedUser[]>,
  results: Record<string, RepairResult>,
  opts: { locked?: boolean } = {},
) {
  const forgotten: string[] = [];
  const repaired: string[] = [];
  const reports: RecoveryReport[] = [];
  const s = new RecoverySweep({
    index: {
      partitions: 2,
      scan: async (p, cursor) => {
        const users = index[p] ?? [];
        // Two users per page, the cursor being the position of the next one.
        const at = Number(cursor);
        const next = at + 2 >= users.length ? '0' : String(at + 2);
        return { cursor: next, users: users.slice(at, at + 2) };
      },
      forget: async (_p, u) => {
        forgotten.push(u.userId);
        return true;
      },
    },
    lock: { take: async () => (opts.locked ? null : 'token'), release: async () => {} },
    repair: {
      repairUser: async (userId) => {
        repaired.push(userId);
        const r = results[userId];
        if (!r) throw new Error('redis is away');
        return r;
      },
    },
    reports: {
      write: async (r) => {
        reports.push(r);
      },
    },
    intervalMs: 1000,
    graceMs: 0,
    logger,
  });
  return { s, forgotten, repaired, reports };
}

const user = (userId: string): IndexedUser => ({ userId, mark: '1' });

describe('RecoverySweep (in-memory index, lock and repairs)', () => {
  it('repairs every indexed user of every partition and forgets those with nothing pending', async () => {
    const { s, forgotten, repaired, reports } = sweep(
      { 0: [user('a'), user('b'), user('c')], 1: [user('d'), user('e')] },
      {
        a: { kind: 'idle' },
        b: { kind: 'retry' },
        c: { kind: 'running' },
        d: { kind: 'add' },
        e: { kind: 'idle' },
      },
    );
    expect(await s.sweepOnce()).toMatchObject({ users: 5, idle: 2, retry: 1, running: 1, add: 1, errors: 0 });
    expect(repaired.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(forgotten.sort()).toEqual(['a', 'e']);
    // b and d were left behind; a, c and e were not.
    expect(reports).toEqual([{ at: expect.any(Number), users: 5, stuck: 2 }]);
  });

  it('a user whose repair fails is counted and kept; the others are still repaired', async () => {
    const { s, forgotten, reports } = sweep({ 0: [user('a'), user('broken')] }, { a: { kind: 'idle' } });
    expect(await s.sweepOnce()).toMatchObject({ users: 2, idle: 1, errors: 1 });
    expect(forgotten).toEqual(['a']);
    expect(reports.map((r) => r.stuck)).toEqual([1]);
  });

  it('does nothing while another process holds the lock', async () => {
    const { s, repaired, reports } = sweep({ 0: [user('a')] }, { a: { kind: 'idle' } }, { locked: true });
    expect(await s.sweepOnce()).toBeNull();
    expect(repaired).toEqual([]);
    expect(reports).toEqual([]);
  });
});
