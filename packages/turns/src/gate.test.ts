import { userKeys } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { TurnGate } from './gate.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

describe('turn gate Lua (real Redis)', () => {
  let ns: string;
  let gate: TurnGate;
  const user = 'alice';
  const pending = (seqs: number[]) =>
    Promise.all(
      seqs.map((s) => redis.hset(userKeys(ns, user).pending, s, JSON.stringify({ turnId: `t${s}` }))),
    );

  beforeEach(() => {
    ns = freshNamespace();
    gate = new TurnGate({ redis, namespace: ns, leaseMs: 5000 });
  });

  it('acquire: the first turn runs and takes the lease', async () => {
    expect(await gate.acquire(user, 1, 'a')).toEqual({ kind: 'acquired', done: 0 });
    expect(await redis.get(userKeys(ns, user).lease)).toBe('a');
    expect(await redis.pttl(userKeys(ns, user).lease)).toBeGreaterThan(4000);
  });

  it('acquire: the same delivery may acquire again (re-entrant)', async () => {
    await gate.acquire(user, 1, 'a');
    expect((await gate.acquire(user, 1, 'a')).kind).toBe('acquired');
  });

  it('acquire: a later turn parks while its predecessor is unfinished', async () => {
    expect(await gate.acquire(user, 2, 'b')).toEqual({ kind: 'park', done: 0 });
    expect(await redis.get(userKeys(ns, user).lease)).toBeNull();
  });

  it('acquire: another delivery of the running turn is busy, with the lease time left', async () => {
    await gate.acquire(user, 1, 'a');
    const r = await gate.acquire(user, 1, 'a2');
    expect(r.kind).toBe('busy');
    if (r.kind === 'busy') expect(r.leaseMsLeft).toBeGreaterThan(4000);
  });

  it('acquire: a finished turn is a duplicate', async () => {
    await pending([1]);
    await gate.acquire(user, 1, 'a');
    await gate.finish(user, 1, 'a');
    expect(await gate.acquire(user, 1, 'x')).toEqual({ kind: 'duplicate', done: 1 });
  });

  it('acquire: an expired lease can be taken by the next delivery', async () => {
    const short = new TurnGate({ redis, namespace: ns, leaseMs: 1000 });
    await short.acquire(user, 1, 'dead-worker');
    await redis.pexpire(userKeys(ns, user).lease, 1);
    await new Promise((r) => setTimeout(r, 10));
    expect((await short.acquire(user, 1, 'new')).kind).toBe('acquired');
  });

  it('renew: extends only our own lease', async () => {
    await gate.acquire(user, 1, 'a');
    await redis.pexpire(userKeys(ns, user).lease, 100);
    expect(await gate.renew(user, 'a')).toBe(true);
    expect(await redis.pttl(userKeys(ns, user).lease)).toBeGreaterThan(4000);
    expect(await gate.renew(user, 'b')).toBe(false);
  });

  it('release: frees only our own lease', async () => {
    await gate.acquire(user, 1, 'a');
    expect(await gate.release(user, 'b')).toBe(false);
    expect(await gate.release(user, 'a')).toBe(true);
    expect(await redis.get(userKeys(ns, user).lease)).toBeNull();
    expect(await gate.release(user, 'a')).toBe(false);
  });

  it('finish: advances done, frees the lease, forgets the payload, returns the next payload', async () => {
    await pending([1, 2]);
    await gate.acquire(user, 1, 'a');
    const r = await gate.finish(user, 1, 'a');
    expect(r).toEqual({ kind: 'finished', nextPayload: JSON.stringify({ turnId: 't2' }) });
    const k = userKeys(ns, user);
    expect(await redis.get(k.done)).toBe('1');
    expect(await redis.get(k.lease)).toBeNull();
    expect(await redis.hexists(k.pending, '1')).toBe(0);
    expect((await gate.acquire(user, 2, 'b')).kind).toBe('acquired');
  });

  it('finish: with no next turn pending returns no payload', async () => {
    await pending([1]);
    await gate.acquire(user, 1, 'a');
    expect(await gate.finish(user, 1, 'a')).toEqual({ kind: 'finished', nextPayload: null });
  });

  it('finish: twice is harmless', async () => {
    await pending([1]);
    await gate.acquire(user, 1, 'a');
    await gate.finish(user, 1, 'a');
    expect(await gate.finish(user, 1, 'a')).toEqual({ kind: 'already-finished' });
    expect(await redis.get(userKeys(ns, user).done)).toBe('1');
  });

  it('finish: refuses to finish a turn before its predecessor', async () => {
    await expect(gate.finish(user, 2, 'a')).rejects.toMatchObject({ code: 'protocol_violation' });
  });

  it('finish: refuses while another delivery holds the lease', async () => {
    await gate.acquire(user, 1, 'a');
    await expect(gate.finish(user, 1, 'b')).rejects.toMatchObject({ code: 'conflict' });
    await expect(gate.finish(user, 1, '')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('finish: with an empty token finishes a turn nobody holds (repair)', async () => {
    await pending([1, 2]);
    expect((await gate.finish(user, 1, '')).kind).toBe('finished');
    expect(await redis.get(userKeys(ns, user).done)).toBe('1');
  });

  it('peek: shows done, the next pending payload and the lease holder', async () => {
    await pending([1, 2]);
    expect(await gate.peek(user)).toEqual({
      done: 0,
      nextPayload: JSON.stringify({ turnId: 't1' }),
      leaseHolder: null,
    });
    await gate.acquire(user, 1, 'a');
    expect((await gate.peek(user)).leaseHolder).toBe('a');
    await gate.finish(user, 1, 'a');
    expect(await gate.peek(user)).toEqual({
      done: 1,
      nextPayload: JSON.stringify({ turnId: 't2' }),
      leaseHolder: null,
    });
  });

  it('keys of one user share one Redis Cluster hash slot', async () => {
    const k = userKeys(ns, user);
    const slots = await Promise.all(
      [
        k.seq,
        k.done,
        k.lease,
        k.pending,
        k.history,
        k.historyMeta,
        k.idempotency('x'),
        k.scratchpad('t'),
      ].map((key) => redis.call('CLUSTER', 'KEYSLOT', key).catch(() => slotOf(key))),
    );
    expect(new Set(slots).size).toBe(1);
  });
});

/** The hash tag rule of Redis Cluster, for servers not running in cluster mode. */
function slotOf(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}
