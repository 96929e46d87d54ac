import { FleetError } from '@agent-fleet/core';
import { type RunningSim, startSim } from '@agent-fleet/llm-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddingBatcher } from './embed-batcher.ts';
import { HashRing } from './hash-ring.ts';
import { LlmPool, type LlmPoolOptions, type PoolStreamEvent } from './pool.ts';

const sims: RunningSim[] = [];
const pools: LlmPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

/** A simulator that answers as soon as it schedules (timeScale 0) unless a test slows it down. */
async function sim(opts: Parameters<typeof startSim>[0] = {}): Promise<RunningSim> {
  const s = await startSim({ ...opts, engine: { timeScale: 0, ...opts?.engine } });
  sims.push(s);
  return s;
}
function pool(servers: RunningSim[], opts: Partial<LlmPoolOptions> = {}): LlmPool {
  const p = new LlmPool({
    servers: servers.map((s) => s.url),
    apiKey: 'k',
    model: 'fleet-sim',
    healthIntervalMs: 0,
    backoffBaseMs: 5,
    ...opts,
  });
  pools.push(p);
  return p;
}
const admin = (s: RunningSim) => s.url.replace(/\/v1$/, '');
async function requestsSeen(s: RunningSim): Promise<number> {
  return ((await (await fetch(`${admin(s)}/sim/stats`)).json()) as { requests: number }).requests;
}
async function configure(s: RunningSim, patch: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${admin(s)}/sim/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(patch),
  });
  expect(res.status).toBe(200);
}
const ask = (userId: string, text = 'hello') => ({
  userId,
  messages: [{ role: 'user' as const, content: text }],
});
/** A user id whose home server on the ring is `index`. */
function userHomedAt(servers: RunningSim[], index: number): string {
  const ring = new HashRing(servers.map((s) => s.url));
  for (let i = 0; ; i++) if (ring.order(`user-${i}`)[0] === index) return `user-${i}`;
}

describe('LlmPool against simulator servers over HTTP', () => {
  it('answers, accounts tokens, and keeps a user on one server with session routing', async () => {
    const servers = [await sim(), await sim(), await sim()];
    const p = pool(servers);
    const first = await p.chat(ask('alice', 'hi there'));
    expect(first.content).toBe('Echo [n=1]: hi there');
    expect(first.promptTokens).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect((await p.chat(ask('alice'))).server).toBe(first.server);
    const homes = new Set<string>();
    for (let i = 0; i < 30; i++) homes.add((await p.chat(ask(`u${i}`))).server);
    expect(homes.size).toBe(3);
    expect(await p.registry.metrics()).toMatch(/fleet_llm_tokens_total\{server="[^"]+",kind="prompt"\} \d+/);
  });

  it('sends the user as the OpenAI user field and the x-user-id header, and the tenant as cache_salt', async () => {
    const servers = [await sim()];
    const p = pool(servers);
    await p.chat({ ...ask('carol'), tenant: 'acme' });
    const stats = (await (await fetch(`${admin(servers[0]!)}/sim/stats`)).json()) as {
      byUser: Record<string, number>;
    };
    expect(stats.byUser).toEqual({ carol: 1 });
  });

  it("stops at once when the caller's signal aborts mid-request", async () => {
    const servers = [await sim({ rules: [{ match: { user: 'slow' }, latencyMs: 2000 }] })];
    const p = pool(servers);
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(new Error('cancelled by caller')), 100);
    await expect(p.chat({ ...ask('slow'), signal: ac.signal })).rejects.toThrow('cancelled by caller');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(p.stats().servers[0]).toMatchObject({ inFlight: 0, circuit: 'closed' });
  });

  it('spills past a server over its bounded share instead of piling onto it', async () => {
    const servers = [await sim({ latencyMs: 300 }), await sim({ latencyMs: 300 })];
    const p = pool(servers, { loadFactor: 0.25 });
    const user = userHomedAt(servers, 0);
    const results = await Promise.all(Array.from({ length: 10 }, () => p.chat(ask(user))));
    const onHome = results.filter((r) => r.server === servers[0]!.url).length;
    expect(onHome).toBeGreaterThan(0);
    expect(onHome).toBeLessThanOrEqual(7); // ⌈(10/2)·1.25⌉ = 7
  });

  it('fails over to another server when one dies mid-stream', async () => {
    const servers = [await sim({ tokenLatencyMs: 40 }), await sim()];
    const p = pool(servers);
    const user = userHomedAt(servers, 0);
    const events: PoolStreamEvent[] = [];
    const text = 'a long answer that streams for a while before the server goes away';
    for await (const ev of p.chatStream(ask(user, text))) {
      events.push(ev);
      if (events.length === 3) void servers[0]!.close();
    }
    expect(events.some((e) => e.type === 'restart')).toBe(true);
    const done = events.at(-1);
    expect(done?.type).toBe('done');
    if (done?.type === 'done') {
      expect(done.result.server).toBe(servers[1]!.url);
      expect(done.result.content).toBe(`Echo [n=1]: ${text}`);
    }
    const afterRestart = events.slice(events.findIndex((e) => e.type === 'restart') + 1);
    expect(afterRestart.map((e) => (e.type === 'delta' ? e.content : '')).join('')).toBe(
      `Echo [n=1]: ${text}`,
    );
  });

  it('opens the circuit of a failing server, then closes it after a good probe', async () => {
    const servers = [await sim(), await sim()];
    const p = pool(servers, { routing: 'round-robin', breakerFailureThreshold: 2, breakerCooldownMs: 300 });
    await configure(servers[0]!, { errorRate: 1 });
    for (let i = 0; i < 6; i++) expect((await p.chat(ask(`u${i}`))).server).toBe(servers[1]!.url);
    expect(p.stats().servers[0]!.circuit).toBe('open');
    const seenWhileOpen = await requestsSeen(servers[0]!);
    for (let i = 0; i < 4; i++) await p.chat(ask(`v${i}`));
    expect(await requestsSeen(servers[0]!)).toBe(seenWhileOpen); // no traffic while open
    await configure(servers[0]!, { errorRate: 0 });
    await new Promise((r) => setTimeout(r, 350));
    const probe = await Promise.all(Array.from({ length: 4 }, (_, i) => p.chat(ask(`w${i}`))));
    expect(probe.some((r) => r.server === servers[0]!.url)).toBe(true);
    expect(p.stats().servers[0]!.circuit).toBe('closed');
  });

  it('serves interactive requests before batch ones when servers are saturated', async () => {
    const servers = [await sim({ latencyMs: 100 })];
    const p = pool(servers, { maxInFlightPerServer: 1 });
    const order: string[] = [];
    const run = (name: string, priority: 'interactive' | 'batch') =>
      p.chat({ ...ask(name), priority }).then(() => order.push(name));
    const all = [run('batch-0', 'batch')];
    await new Promise((r) => setTimeout(r, 20)); // batch-0 holds the only slot
    for (let i = 1; i <= 3; i++) all.push(run(`batch-${i}`, 'batch'));
    for (let i = 0; i < 3; i++) all.push(run(`chat-${i}`, 'interactive'));
    await Promise.all(all);
    expect(order).toEqual(['batch-0', 'chat-0', 'chat-1', 'chat-2', 'batch-1', 'batch-2', 'batch-3']);
  });

  it('retries a failing request a bounded number of times, and never a 4xx', async () => {
    const servers = [await sim({ errorRate: 1 }), await sim({ errorRate: 1 })];
    const p = pool(servers, { maxAttempts: 3, breakerFailureThreshold: 100 });
    const err = await p.chat(ask('bob')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetError);
    expect(err).toMatchObject({ code: 'upstream_error', isRetryable: true });
    expect((await requestsSeen(servers[0]!)) + (await requestsSeen(servers[1]!))).toBe(3);

    const ok = [await sim()];
    const q = pool(ok, { maxAttempts: 3 });
    const bad = await q.chat({ userId: 'bob', messages: [] }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ isRetryable: false });
    expect((bad as Error).message).toMatch(/after 1 attempt/);
    expect(await q.registry.metrics()).toMatch(
      /fleet_llm_requests_total\{server="[^"]+",outcome="error"\} 1\n/,
    );
  });

  it('loses no request: under failures every request ends, nearly all of them answered', async () => {
    const servers = [await sim({ errorRate: 0.2, seed: 7 }), await sim({ errorRate: 0.2, seed: 8 })];
    const p = pool(servers, { maxAttempts: 5, maxInFlightPerServer: 8, breakerFailureThreshold: 1000 });
    const settled = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => p.chat(ask(`user-${i % 37}`, `q${i}`))),
    );
    const ok = settled.filter((s) => s.status === 'fulfilled');
    expect(settled).toHaveLength(200);
    expect(ok.length).toBeGreaterThanOrEqual(198); // 0.2^5 per request
    for (const [i, s] of settled.entries()) {
      if (s.status === 'fulfilled') expect(s.value.content).toBe(`Echo [n=1]: q${i}`);
    }
    expect(p.stats().servers.every((s) => s.inFlight === 0)).toBe(true);
    expect(p.stats().waiting).toBe(0);
  });

  it('cancels a request waiting for a slot without taking one', async () => {
    const servers = [await sim({ latencyMs: 300 })];
    const p = pool(servers, { maxInFlightPerServer: 1 });
    const busy = p.chat(ask('a'));
    const ac = new AbortController();
    const waiting = p.chat({ ...ask('b'), signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user went away')), 30);
    await expect(waiting).rejects.toThrow('user went away');
    expect(p.stats().waiting).toBe(0);
    await busy;
    expect(p.stats().servers[0]!.inFlight).toBe(0);
  });

  it('embeds through the pool, and the batcher coalesces concurrent callers into one request', async () => {
    const servers = [await sim()];
    const p = pool(servers);
    const [a, b] = await p.embed(['customer due diligence records', 'customer due diligence files']);
    const norm = (v: number[]) => Math.sqrt(v.reduce((n, x) => n + x * x, 0));
    expect(norm(a!)).toBeCloseTo(1, 5);
    expect(a!.reduce((n, x, i) => n + x * b![i]!, 0)).toBeGreaterThan(0.5); // shared words: close
    const before = await requestsSeen(servers[0]!);
    const batcher = new EmbeddingBatcher((texts) => p.embed(texts), { maxInputs: 100, maxWaitMs: 10 });
    const out = await Promise.all(['one', 'two', 'three'].map((t) => batcher.embed([t])));
    expect(out.map((v) => v.length)).toEqual([1, 1, 1]);
    expect((await requestsSeen(servers[0]!)) - before).toBe(1);
  });

  it('health checks trip the circuit of a dead server and route around it', async () => {
    const servers = [await sim(), await sim()];
    const p = pool(servers, { routing: 'round-robin' });
    await servers[0]!.close();
    await p.checkHealth();
    expect(p.stats().servers[0]).toMatchObject({ healthy: false, circuit: 'open' });
    for (let i = 0; i < 4; i++) expect((await p.chat(ask(`u${i}`))).server).toBe(servers[1]!.url);
  });
});
