import { type TurnResult, userKeys } from '@agent-fleet/core';
import { PartitionQueues, TurnGate } from '@agent-fleet/turns';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { FleetApiError } from './errors.ts';
import { FleetClient } from './fleet-client.ts';
import type { TurnEvent, TurnRecord } from './types.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

describe('FleetClient (real Redis, the gateway’s TurnProducer)', () => {
  let ns: string;
  let client: FleetClient;
  let gate: TurnGate;
  beforeEach(() => {
    ns = freshNamespace();
    // Every user is new in a fresh namespace: the transcript's floor is 0.
    client = new FleetClient({
      connection: redisUrl(),
      namespace: ns,
      partitions: 4,
      maxMessageBytes: 64,
      seqFloor: async () => 0,
    });
    gate = new TurnGate({
      redis,
      namespace: ns,
      leaseMs: 5000,
      recordTtlSeconds: 3600,
      hotStateTtlSeconds: 3600,
    });
  });
  afterEach(() => client.close());

  /** Plays the worker's part through the real gate: run turn `seq` of `userId` to completion. */
  const runTurn = async (userId: string, seq: number, turnId: string, reply = `re ${seq}`) => {
    expect((await gate.begin(userId, seq, turnId, 'w')).kind).toBe('acquired');
    await gate.commit({ userId, seq, turnId, token: 'w', status: 'completed', outcome: reply, messages: [] });
  };

  it('accepts turns with per-user seqs on the user’s partition, as the gateway does', async () => {
    const a = await client.send({ userId: 'ann', text: 'one', threadId: 'th-1' });
    const b = await client.send({ userId: 'ann', text: 'two' });
    const c = await client.send({ userId: 'bob', text: 'hi' });
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 1]);
    expect(a.created && b.created && c.created).toBe(true);
    const partitions = new PartitionQueues({
      connection: redis,
      namespace: ns,
      partitions: 4,
      policy: { attempts: 1, backoffMs: 1 },
    });
    try {
      const job = await partitions.getJob('ann', b.turnId);
      expect(job?.data).toMatchObject({ v: 1, kind: 'chat', userId: 'ann', seq: 2, text: 'two' });
      expect(job?.opts.attempts).toBe(5); // the fleet's TURN_ATTEMPTS default
    } finally {
      await partitions.close();
    }
    expect(await client.getTurn(a.turnId)).toMatchObject({
      turnId: a.turnId,
      userId: 'ann',
      seq: 1,
      status: 'queued',
      threadId: 'th-1',
      attempts: 0,
      enqueuedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(await client.getTurn('t_00000000000000000000000000000000')).toBeNull();
  });

  it('makes retries safe with idempotency keys', async () => {
    const first = await client.send({ userId: 'ann', text: 'pay', idempotencyKey: 'order-7' });
    const again = await client.send({ userId: 'ann', text: 'pay', idempotencyKey: 'order-7' });
    expect(again).toEqual({ ...first, created: false });
    await expect(
      client.send({ userId: 'ann', text: 'pay twice', idempotencyKey: 'order-7' }),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused', message: expect.stringMatching(/order-7/) });
    expect(await redis.get(userKeys(ns, 'ann').seq)).toBe('1');
  });

  it('refuses bad input with a typed error naming the field, and sends nothing', async () => {
    const bad: [Parameters<FleetClient['send']>[0], string, RegExp][] = [
      [{ userId: 'a b', text: 'x' }, 'invalid_request', /userId: /],
      [{ userId: 'ann', text: '   ' }, 'invalid_request', /text: text must not be blank/],
      [{ userId: 'ann', text: 'x', threadId: 'no spaces' }, 'invalid_request', /threadId: /],
      [{ userId: 'ann', text: 'x', idempotencyKey: 'has space' }, 'invalid_request', /idempotencyKey: /],
      [{ userId: 'ann', text: 'é'.repeat(33) }, 'payload_too_large', /66 bytes; the limit is 64/],
      [{ userId: 'ann', text: 'a\u0000b' }, 'invalid_request', /text: must not contain NUL/],
    ];
    for (const [input, code, message] of bad) {
      await expect(client.send(input)).rejects.toMatchObject({
        code,
        message: expect.stringMatching(message),
      });
    }
    expect(await redis.exists(userKeys(ns, 'ann').seq)).toBe(0);
  });

  it('waits for a turn and streams its status changes until final', async () => {
    const sent = await client.send({ userId: 'ann', text: 'question' });
    const events: TurnEvent[] = [];
    const streamed = (async () => {
      for await (const e of client.streamTurn(sent.turnId)) events.push(e);
    })();
    const waited = client.waitForTurn(sent.turnId, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 60));
    expect((await gate.begin('ann', 1, sent.turnId, 'w')).kind).toBe('acquired');
    await new Promise((r) => setTimeout(r, 120));
    await gate.commit({
      userId: 'ann',
      seq: 1,
      turnId: sent.turnId,
      token: 'w',
      status: 'completed',
      outcome: 'answer',
      messages: [],
    });
    const final = await waited;
    await streamed;
    expect(final).toMatchObject({ status: 'completed', reply: 'answer', citations: [], attempts: 1 });
    expect(final.completedAt).toBeDefined();
    expect(events.map((e) => e.status)).toEqual(['queued', 'running', 'completed']);
    expect(events.at(-1)?.turn).toEqual(final);
  });

  it('reports a failed turn as a status, not an exception', async () => {
    const sent = await client.send({ userId: 'ann', text: 'q' });
    await gate.commit({
      userId: 'ann',
      seq: 1,
      turnId: sent.turnId,
      token: '',
      status: 'failed',
      outcome: 'LLM down',
    });
    expect(await client.waitForTurn(sent.turnId)).toMatchObject({ status: 'failed', error: 'LLM down' });
    expect((await client.getTurn(sent.turnId))?.reply).toBeUndefined();
  });

  it('ends waiting and streaming at every final status, with the reason', async () => {
    for (const status of ['cancelled', 'interrupted'] as const) {
      const sent = await client.send({ userId: `u-${status}`, text: 'q' });
      const waited = client.waitForTurn(sent.turnId, { timeoutMs: 5000 });
      const streamed = (async () => {
        const seen: string[] = [];
        for await (const e of client.streamTurn(sent.turnId, { timeoutMs: 5000 })) seen.push(e.status);
        return seen;
      })();
      await new Promise((r) => setTimeout(r, 50));
      await gate.commit({
        userId: `u-${status}`,
        seq: 1,
        turnId: sent.turnId,
        token: '',
        status,
        outcome: `${status} on purpose`,
      });
      expect(await waited).toMatchObject({ status, error: `${status} on purpose` });
      expect(await streamed).toEqual(['queued', status]);
    }
  });

  it('times out, aborts, and says when a turn is unknown', async () => {
    const sent = await client.send({ userId: 'ann', text: 'q' });
    await expect(client.waitForTurn(sent.turnId, { timeoutMs: 150 })).rejects.toMatchObject({
      code: 'timeout',
      message: expect.stringMatching(/still queued after 150 ms/),
    });
    const controller = new AbortController();
    const waiting = client.waitForTurn(sent.turnId, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('caller gave up')), 50);
    await expect(waiting).rejects.toThrow('caller gave up');
    await expect(client.waitForTurn('t_00000000000000000000000000000000')).rejects.toMatchObject({
      code: 'not_found',
    });
    await runTurn('ann', 1, sent.turnId);
    expect((await client.waitForTurn(sent.turnId)).status).toBe('completed');
  });

  it('uses a Redis client it is given without closing it, and fails fast when Redis is unreachable', async () => {
    const shared = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const c = new FleetClient({ connection: shared, namespace: ns, seqFloor: async () => 0 });
    await c.send({ userId: 'zed', text: 'hi' });
    await c.close();
    expect(await shared.ping()).toBe('PONG');
    shared.disconnect();
    const down = new FleetClient({
      connection: { host: '127.0.0.1', port: 1, retryStrategy: () => null },
      namespace: ns,
    });
    await expect(down.send({ userId: 'zed', text: 'hi' })).rejects.toMatchObject({ code: 'unavailable' });
    await down.close();
    await expect(down.send({ userId: 'zed', text: 'hi' })).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('keeps TurnRecord identical to the published turn-result schema', () => {
    expectTypeOf<TurnRecord>().toEqualTypeOf<TurnResult>();
  });
});

describe('FleetApiError', () => {
  it('carries the gateway’s code, message, details, status and Retry-After', async () => {
    const res = new Response(
      JSON.stringify({ error: { code: 'rate_limited', message: 'slow down', details: { limit: 5 } } }),
      {
        status: 429,
        headers: { 'retry-after': '3' },
      },
    );
    const err = await FleetApiError.fromResponse(res);
    expect(err).toMatchObject({
      code: 'rate_limited',
      message: 'slow down',
      details: { limit: 5 },
      httpStatus: 429,
      retryAfterMs: 3000,
      isRetryable: true,
    });
    const plain = await FleetApiError.fromResponse(new Response('<html>bad gateway</html>', { status: 502 }));
    expect(plain).toMatchObject({
      code: 'upstream_error',
      httpStatus: 502,
      isRetryable: true,
      retryAfterMs: undefined,
    });
    expect(plain.message).toMatch(/gateway answered 502/);
    const unknown = await FleetApiError.fromResponse(
      new Response(JSON.stringify({ error: { code: 'brand_new', message: 'm' } }), { status: 403 }),
    );
    expect(unknown).toMatchObject({ code: 'forbidden', isRetryable: false });
  });
});
