import { FleetError } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import type { LlmPool } from './pool.ts';
import { configure, requestsSeen, simFixtures, userHomedAt } from './testing/sim-fixtures.ts';
import type { PoolStreamEvent, PoolWaitEvent } from './types.ts';

const { sim, pool } = simFixtures();

type Kind = 'chat' | 'stream' | 'embed';
const KINDS: Kind[] = ['chat', 'stream', 'embed'];

/** One call of `kind` through the pool; `bad` makes a request the server refuses with a 400. */
async function call(
  p: LlmPool,
  kind: Kind,
  opts: { userId: string; onWait?: (e: PoolWaitEvent) => void; bad?: boolean },
): Promise<string> {
  const { bad, ...base } = opts;
  const messages = bad ? [] : [{ role: 'user' as const, content: 'hello' }];
  if (kind === 'chat') return (await p.chat({ ...base, messages })).content;
  if (kind === 'embed') {
    const { vectors } = await p.embed({ ...base, input: ['hello'], ...(bad ? { dimensions: 9000 } : {}) });
    return `${vectors.length} vector(s) of ${vectors[0]!.length}`;
  }
  for await (const ev of p.chatStream({ ...base, messages }))
    if (ev.type === 'done') return ev.result.content;
  throw new Error('the stream ended without done');
}

const retries = (events: PoolWaitEvent[]) =>
  events.flatMap((e) => (e.type === 'retrying' ? [e.attempt] : []));

/**
 * Streams `text` for a user homed on the first of two servers (started with `first`), collecting
 * every event; `onEvent` sees the events so far after each one.
 */
async function streamFromFirst(
  first: Parameters<typeof sim>[0],
  text: string,
  onEvent: (events: PoolStreamEvent[], servers: Awaited<ReturnType<typeof sim>>[]) => void = () => {},
) {
  const servers = [await sim(first), await sim()];
  const events: PoolStreamEvent[] = [];
  const messages = [{ role: 'user' as const, content: text }];
  for await (const ev of pool(servers).chatStream({ userId: userHomedAt(servers, 0), messages })) {
    events.push(ev);
    onEvent(events, servers);
  }
  return { servers, events };
}

describe('one retry loop for chat, chatStream and embed', () => {
  it.each(KINDS)(
    '%s: retries a retryable failure on the other server, a bounded number of times',
    async (kind) => {
      const servers = [await sim({ errorRate: 1 }), await sim({ errorRate: 1 })];
      const p = pool(servers, { maxAttempts: 3, breakerFailureThreshold: 100 });
      const events: PoolWaitEvent[] = [];
      const err = await call(p, kind, { userId: 'bob', onWait: (e) => events.push(e) }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FleetError);
      expect(err).toMatchObject({ code: 'upstream_error', isRetryable: true, details: { status: 500 } });
      expect((err as Error).message).toMatch(/after 3 attempt\(s\) \(last: HTTP 500\)/);
      const seen = [await requestsSeen(servers[0]!), await requestsSeen(servers[1]!)];
      expect(seen[0]! + seen[1]!).toBe(3);
      expect(Math.min(...seen)).toBeGreaterThanOrEqual(1); // the second attempt went to the other server
      expect(retries(events)).toEqual([1, 2]);
      expect(p.health().servers.every((s) => s.inFlight === 0)).toBe(true);
    },
  );

  it.each(KINDS)('%s: never retries a 4xx, and leaves the circuit closed', async (kind) => {
    const servers = [await sim()];
    const p = pool(servers, { maxAttempts: 3, breakerFailureThreshold: 1 });
    const err = await call(p, kind, { userId: 'bob', bad: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'upstream_error', isRetryable: false, details: { status: 400 } });
    expect((err as Error).message).toMatch(/after 1 attempt/);
    const metrics = await p.registry.metrics();
    expect(metrics).toMatch(/fleet_llm_requests_total\{server="[^"]+",outcome="error"\} 1\n/);
    expect(metrics).not.toMatch(/outcome="retry"/);
    expect(p.health().servers[0]).toMatchObject({ circuit: 'closed', healthy: true });
  });

  it.each(KINDS)('%s: a failure on one server is answered by another', async (kind) => {
    const servers = [await sim({ errorRate: 1 }), await sim()];
    const p = pool(servers, { maxAttempts: 2 });
    const events: PoolWaitEvent[] = [];
    const user = userHomedAt(servers, 0);
    const out = await call(p, kind, { userId: user, onWait: (e) => events.push(e) });
    expect(out).toBe(kind === 'embed' ? '1 vector(s) of 384' : 'Echo [n=1]: hello');
    expect(retries(events)).toEqual([1]);
    expect(await requestsSeen(servers[0]!)).toBe(1);
  });

  it('a stream that dies mid-answer restarts on another server; the consumer drops what came before', async () => {
    const text = 'a long answer that streams for a while before the server goes away';
    const { servers, events } = await streamFromFirst({ tokenLatencyMs: 40 }, text, (events, servers) => {
      if (events.length === 3) void servers[0]!.close();
    });
    expect(events.filter((e) => e.type === 'restart')).toHaveLength(1);
    const done = events.at(-1);
    expect(done?.type).toBe('done');
    if (done?.type === 'done') {
      expect(done.result.server).toBe(servers[1]!.url);
      expect(done.result.attempts).toBe(2);
      expect(done.result.content).toBe(`Echo [n=1]: ${text}`);
    }
    const afterRestart = events.slice(events.findIndex((e) => e.type === 'restart') + 1);
    expect(afterRestart.map((e) => (e.type === 'delta' ? e.content : '')).join('')).toBe(
      `Echo [n=1]: ${text}`,
    );
  });

  it('a stream cut before its finish is retried elsewhere, after a restart', async () => {
    const text = 'one two three four five six seven eight nine ten eleven twelve';
    const { servers, events } = await streamFromFirst({ dropStreamRate: 1 }, text);
    const done = events.at(-1);
    expect(done?.type === 'done' && done.result).toMatchObject({ server: servers[1]!.url, attempts: 2 });
    const restartAt = events.findIndex((e) => e.type === 'restart');
    expect(restartAt).toBeGreaterThan(0); // the simulator cuts after 10-90% of the tokens
    expect(events.filter((e) => e.type === 'restart')).toHaveLength(1);
  });

  it('a stream failing before its first token is retried without a restart event', async () => {
    const servers = [await sim({ errorRate: 1 }), await sim()];
    const p = pool(servers);
    const events: PoolStreamEvent[] = [];
    const user = userHomedAt(servers, 0);
    for await (const ev of p.chatStream({ userId: user, messages: [{ role: 'user', content: 'hi' }] })) {
      events.push(ev);
    }
    expect(events.map((e) => e.type)).not.toContain('restart');
    expect(events.at(-1)).toMatchObject({ type: 'done', result: { attempts: 2, content: 'Echo [n=1]: hi' } });
  });

  it('a consumer that stops reading a stream frees its slot and cuts the request', async () => {
    const servers = [await sim({ tokenLatencyMs: 30 })];
    const p = pool(servers, { maxInFlightPerServer: 1 });
    const text = 'many words so that the answer streams for well over a second before it is done';
    for await (const ev of p.chatStream({ userId: 'u', messages: [{ role: 'user', content: text }] })) {
      if (ev.type === 'delta') break;
    }
    expect(p.health().servers[0]).toMatchObject({ inFlight: 0, circuit: 'closed' });
    const next = await p.chat({ userId: 'v', messages: [{ role: 'user', content: 'next' }] });
    expect(next.content).toBe('Echo [n=1]: next');
    expect(await p.registry.metrics()).toMatch(
      /fleet_llm_requests_total\{server="[^"]+",outcome="cancelled"\} 1/,
    );
  });

  it('a caller abort during the backoff stops the call with the caller reason', async () => {
    const servers = [await sim({ errorRate: 1 })];
    const p = pool(servers, { maxAttempts: 5, backoffBaseMs: 2000, backoffMaxMs: 2000 });
    const ac = new AbortController();
    const started = Date.now();
    const res = p.chat({
      userId: 'u',
      messages: [{ role: 'user', content: 'x' }],
      signal: ac.signal,
      onWait: (e) => {
        if (e.type === 'retrying') ac.abort(new Error('turn cancelled'));
      },
    });
    await expect(res).rejects.toThrow('turn cancelled');
    expect(Date.now() - started).toBeLessThan(1000);
    await configure(servers[0]!, { errorRate: 0 });
    expect(await requestsSeen(servers[0]!)).toBe(1);
  });
});
