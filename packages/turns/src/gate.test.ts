import { type HistoryMessage, hotStateKeys, userKeys } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { type CommitInput, TurnGate } from './gate.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

const user = 'alice';
const msgs = (seq: number, reply = `reply ${seq}`): HistoryMessage[] => [
  { role: 'user', content: `question ${seq}`, turnId: `t${seq}`, seq, tokens: 5 },
  { role: 'assistant', content: reply, turnId: `t${seq}`, seq, tokens: 5 },
];

describe('turn gate Lua: begin, commit, renew, release, peek (real Redis)', () => {
  let ns: string;
  let gate: TurnGate;
  let k: ReturnType<typeof userKeys>;
  const HOT_TTL = 600;
  const make = (leaseMs = 5000) =>
    new TurnGate({ redis, namespace: ns, leaseMs, recordTtlSeconds: 3600, hotStateTtlSeconds: HOT_TTL });
  const pending = (seqs: number[]) =>
    Promise.all(seqs.map((s) => redis.hset(k.pending, s, JSON.stringify({ turnId: `t${s}` }))));
  const commit = (seq: number, token: string, extra: Partial<CommitInput> = {}) =>
    gate.commit({
      userId: user,
      seq,
      turnId: `t${seq}`,
      token,
      status: 'completed',
      outcome: `reply ${seq}`,
      messages: msgs(seq),
      ...extra,
    });
  const run = async (seq: number) => {
    await gate.begin(user, seq, `t${seq}`, `tok${seq}`);
    return commit(seq, `tok${seq}`);
  };

  beforeEach(async () => {
    ns = freshNamespace();
    k = userKeys(ns, user);
    gate = make();
    // What accepting the user's first turn leaves behind (accept-turn-13.lua).
    await redis.set(k.done, 0);
  });

  describe('begin', () => {
    it('lets the first turn run, takes the lease and marks the record running', async () => {
      await redis.hset(k.record('t1'), { status: 'queued', seq: 1, attempts: 0 });
      const r = await gate.begin(user, 1, 't1', 'a');
      expect(r).toEqual({
        kind: 'acquired',
        done: 0,
        scratchpad: {},
        history: [],
        meta: { lastSeq: 0, tokens: 0, summaryUpTo: 0 },
      });
      expect(await redis.get(k.lease)).toBe('a');
      expect(await redis.pttl(k.lease)).toBeGreaterThan(4000);
      expect(await redis.hgetall(k.record('t1'))).toMatchObject({ status: 'running', attempts: '1' });
      expect(Number(await redis.hget(k.record('t1'), 'startedAt'))).toBeGreaterThan(0);
    });

    it('returns the history and the scratchpad the turn resumes from', async () => {
      await run(1);
      await redis.hset(k.scratchpad('t2'), 'reply', 'checkpointed');
      const r = await gate.begin(user, 2, 't2', 'b');
      expect(r).toMatchObject({ kind: 'acquired', scratchpad: { reply: 'checkpointed' }, history: msgs(1) });
    });

    it('is re-entrant for the same delivery, counting attempts', async () => {
      await gate.begin(user, 1, 't1', 'a');
      expect((await gate.begin(user, 1, 't1', 'a')).kind).toBe('acquired');
      expect(await redis.hget(k.record('t1'), 'attempts')).toBe('2');
    });

    it('parks a later turn while its predecessor is unfinished, without touching lease or record', async () => {
      expect(await gate.begin(user, 2, 't2', 'b')).toEqual({ kind: 'park', done: 0 });
      expect(await redis.get(k.lease)).toBeNull();
      expect(await redis.exists(k.record('t2'))).toBe(0);
    });

    it('reports busy, with the lease time left, when another delivery holds the lease', async () => {
      await gate.begin(user, 1, 't1', 'a');
      const r = await gate.begin(user, 1, 't1', 'a2');
      expect(r.kind).toBe('busy');
      if (r.kind === 'busy') expect(r.leaseMsLeft).toBeGreaterThan(4000);
    });

    it('calls a finished turn a duplicate', async () => {
      await run(1);
      expect(await gate.begin(user, 1, 't1', 'x')).toEqual({ kind: 'duplicate', done: 1 });
    });

    it('lets the next delivery take an expired lease', async () => {
      await gate.begin(user, 1, 't1', 'dead-worker');
      await redis.pexpire(k.lease, 1);
      await new Promise((r) => setTimeout(r, 10));
      expect((await gate.begin(user, 1, 't1', 'new')).kind).toBe('acquired');
    });

    it('never marks a turn with a final status running again', async () => {
      await redis.hset(k.record('t1'), { status: 'completed', seq: 1 });
      await gate.begin(user, 1, 't1', 'a');
      expect(await redis.hget(k.record('t1'), 'status')).toBe('completed');
    });
  });

  describe('commit', () => {
    it('appends history, records the reply, advances done, frees lease and scratchpad, returns the next payload', async () => {
      await pending([1, 2]);
      await gate.begin(user, 1, 't1', 'a');
      await redis.hset(k.scratchpad('t1'), 'reply', 'reply 1');
      expect(await commit(1, 'a')).toEqual({
        kind: 'finished',
        nextPayload: JSON.stringify({ turnId: 't2' }),
        historyTokens: 10,
      });
      expect(await redis.get(k.done)).toBe('1');
      expect(await redis.get(k.lease)).toBeNull();
      expect(await redis.exists(k.scratchpad('t1'))).toBe(0);
      expect(await redis.hexists(k.pending, '1')).toBe(0);
      expect(await gate.history(user)).toEqual(msgs(1));
      expect(await redis.hgetall(k.record('t1'))).toMatchObject({ status: 'completed', reply: 'reply 1' });
      expect((await gate.begin(user, 2, 't2', 'b')).kind).toBe('acquired');
    });

    it('returns no payload when no next turn is pending', async () => {
      await gate.begin(user, 1, 't1', 'a');
      expect(await commit(1, 'a')).toEqual({ kind: 'finished', nextPayload: null, historyTokens: 10 });
    });

    it('is harmless twice: the history gets the turn once', async () => {
      await gate.begin(user, 1, 't1', 'a');
      await commit(1, 'a');
      expect(await commit(1, 'a')).toEqual({ kind: 'already-finished' });
      expect(await gate.history(user)).toEqual(msgs(1));
      expect(await redis.get(k.done)).toBe('1');
    });

    it('never appends a turn to the history twice, even if done was lost', async () => {
      await run(1);
      await redis.del(k.done);
      await gate.begin(user, 1, 't1', 'again');
      await commit(1, 'again');
      expect(await gate.history(user)).toEqual(msgs(1));
    });

    it('refuses to finish a turn before its predecessor', async () => {
      await expect(commit(2, 'a')).rejects.toMatchObject({ code: 'protocol_violation' });
    });

    it('refuses while another delivery holds the lease', async () => {
      await gate.begin(user, 1, 't1', 'a');
      await expect(commit(1, 'b')).rejects.toMatchObject({ code: 'conflict' });
      await expect(commit(1, '')).rejects.toMatchObject({ code: 'conflict' });
    });

    it('with an empty token finishes a failed turn nobody holds, leaving history alone', async () => {
      await pending([1, 2]);
      const r = await commit(1, '', { status: 'failed', outcome: 'LLM down', messages: [] });
      expect(r.kind).toBe('finished');
      expect(await redis.get(k.done)).toBe('1');
      expect(await gate.history(user)).toEqual([]);
      expect(await redis.hgetall(k.record('t1'))).toMatchObject({ status: 'failed', error: 'LLM down' });
    });

    it('counts the tokens of the history and returns them', async () => {
      await gate.begin(user, 1, 't1', 'a');
      expect(await commit(1, 'a')).toMatchObject({ kind: 'finished', historyTokens: 10 });
      await gate.begin(user, 2, 't2', 'b');
      expect(await commit(2, 'b')).toMatchObject({ historyTokens: 20 });
      const r = await gate.begin(user, 3, 't3', 'c');
      expect(r).toMatchObject({ meta: { lastSeq: 2, tokens: 20, summaryUpTo: 0 } });
    });
  });

  describe('fold and rebuild', () => {
    it('folds the oldest turns into the summary', async () => {
      for (let s = 1; s <= 4; s++) await run(s);
      const oldest = [...msgs(1), ...msgs(2)];
      expect(await gate.fold(user, oldest, 'they asked two questions')).toBe(20);
      expect(await gate.history(user)).toEqual([...msgs(3), ...msgs(4)]);
      const r = await gate.begin(user, 5, 't5', 'e');
      expect(r).toMatchObject({
        meta: { lastSeq: 4, tokens: 20, summary: 'they asked two questions', summaryUpTo: 2 },
      });
    });

    it('folds nothing when the oldest messages are no longer the ones summarised', async () => {
      for (let s = 1; s <= 3; s++) await run(s);
      expect(await gate.fold(user, [...msgs(2)], 'wrong start')).toBeNull();
      expect(await gate.fold(user, [...msgs(1), ...msgs(3)], 'not the oldest run')).toBeNull();
      expect(await gate.history(user)).toEqual([...msgs(1), ...msgs(2), ...msgs(3)]);
    });

    it('rebuilds a lost history once, under the lease, and never over an existing one', async () => {
      await redis.set(k.done, 8);
      expect((await gate.begin(user, 9, 't9', 'x')).kind).toBe('acquired');
      const h = { messages: [...msgs(7), ...msgs(8)], lastSeq: 8, summary: 'earlier talk', summaryUpTo: 6 };
      const meta = { lastSeq: 8, tokens: 20, summary: 'earlier talk', summaryUpTo: 6 };
      expect(await gate.rebuild(user, 'y', h)).toBeNull();
      expect(await redis.exists(k.history, k.historyMeta)).toBe(0);
      expect(await gate.rebuild(user, 'x', h)).toEqual({ messages: h.messages, meta });
      expect(await gate.history(user)).toEqual(h.messages);
      expect(await gate.rebuild(user, 'x', { ...h, messages: msgs(9), lastSeq: 9 })).toEqual({
        messages: h.messages,
        meta,
      });
      expect(await gate.begin(user, 9, 't9', 'x')).toMatchObject({ meta });
    });

    it('folds nothing into a history whose hot state expired meanwhile', async () => {
      for (let s = 1; s <= 3; s++) await run(s);
      await redis.del(k.historyMeta);
      expect(await gate.fold(user, [...msgs(1)], 'too late')).toBeNull();
      expect(await redis.exists(k.historyMeta)).toBe(0);
    });
  });

  it('renew extends only our own lease', async () => {
    await gate.begin(user, 1, 't1', 'a');
    await redis.pexpire(k.lease, 100);
    expect(await gate.renew(user, 1, 'a')).toBe(true);
    expect(await redis.pttl(k.lease)).toBeGreaterThan(4000);
    expect(await gate.renew(user, 1, 'b')).toBe(false);
    expect(await redis.get(k.lease)).toBe('a');
  });

  it('renew takes an expired lease again while nobody else holds it and the turn is still next', async () => {
    await gate.begin(user, 1, 't1', 'a');
    await redis.del(k.lease); // expired while Redis was away
    expect(await gate.renew(user, 1, 'a')).toBe(true);
    expect(await redis.get(k.lease)).toBe('a');
    expect(await redis.pttl(k.lease)).toBeGreaterThan(4000);
    // Another delivery took it meanwhile: ours stops.
    await redis.set(k.lease, 'b');
    expect(await gate.renew(user, 1, 'a')).toBe(false);
    // The turn was finished by another delivery: nothing to take.
    await redis.del(k.lease);
    await redis.set(k.done, 1);
    expect(await gate.renew(user, 1, 'a')).toBe(false);
    expect(await redis.get(k.lease)).toBeNull();
  });

  it('release frees only our own lease', async () => {
    await gate.begin(user, 1, 't1', 'a');
    expect(await gate.release(user, 'b')).toBe(false);
    expect(await gate.release(user, 'a')).toBe(true);
    expect(await redis.get(k.lease)).toBeNull();
    expect(await gate.release(user, 'a')).toBe(false);
  });

  it('peek shows done, the next pending payload and the lease holder', async () => {
    await pending([1, 2]);
    expect(await gate.peek(user)).toEqual({
      done: 0,
      nextPayload: JSON.stringify({ turnId: 't1' }),
      leaseHolder: null,
    });
    await gate.begin(user, 1, 't1', 'a');
    expect((await gate.peek(user)).leaseHolder).toBe('a');
    await commit(1, 'a');
    expect(await gate.peek(user)).toEqual({
      done: 1,
      nextPayload: JSON.stringify({ turnId: 't2' }),
      leaseHolder: null,
    });
  });

  describe('hot state expiry', () => {
    const ttls = () => Promise.all(hotStateKeys(k).map((key) => redis.ttl(key)));

    it("starts the hot state's TTL when the user's last pending turn finishes, and not before", async () => {
      await pending([1, 2]);
      await redis.set(k.seq, 2);
      await redis.set(k.interrupt, 2);
      await run(1);
      expect(await ttls()).toEqual([-1, -1, -1, -1, -1]);
      await run(2);
      for (const ttl of await ttls()) expect(ttl).toBeGreaterThan(HOT_TTL - 5);
      expect(await redis.exists(k.pending)).toBe(0);
    });

    it('calls a delivery of a turn that is not pending a duplicate once the state expired, writing nothing', async () => {
      await run(1);
      await redis.del(...hotStateKeys(k));
      expect(await gate.begin(user, 1, 't1', 'late')).toEqual({ kind: 'duplicate', done: 0 });
      expect(await gate.begin(user, 2, 't2', 'late')).toEqual({ kind: 'duplicate', done: 0 });
      expect(await commit(2, '')).toEqual({ kind: 'already-finished' });
      expect(await redis.exists(...hotStateKeys(k), k.lease)).toBe(0);
    });

    it('runs a pending turn whose numbering was lost like any other', async () => {
      await pending([1]);
      await redis.del(k.done);
      expect((await gate.begin(user, 1, 't1', 'a')).kind).toBe('acquired');
      expect(await commit(1, 'a')).toMatchObject({ kind: 'finished' });
      expect(await redis.get(k.done)).toBe('1');
    });
  });

  it('keeps every key of one user in one Redis Cluster hash slot', () => {
    const keys = [
      k.seq,
      k.done,
      k.lease,
      k.pending,
      k.history,
      k.historyMeta,
      k.idempotency('x'),
      k.scratchpad('t'),
      k.record('t'),
    ];
    const tags = keys.map((key) => /\{([^}]+)\}/.exec(key)?.[1]);
    expect(new Set(tags)).toEqual(new Set([`u:${user}`]));
  });
});
