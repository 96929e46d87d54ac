import { FleetError } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { EmbeddingBatcher } from './embed-batcher.ts';
import {
  adminUrl as admin,
  ask,
  configure,
  requestsSeen,
  simFixtures,
  userHomedAt,
} from './testing/sim-fixtures.ts';

const { sim, pool } = simFixtures();

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
    expect(p.health().servers[0]).toMatchObject({ inFlight: 0, circuit: 'closed' });
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

  it('opens the circuit of a failing server, then closes it after a good probe', async () => {
    const servers = [await sim(), await sim()];
    const p = pool(servers, { routing: 'round-robin', breakerFailureThreshold: 2, breakerCooldownMs: 300 });
    await configure(servers[0]!, { errorRate: 1 });
    for (let i = 0; i < 6; i++) expect((await p.chat(ask(`u${i}`))).server).toBe(servers[1]!.url);
    expect(p.health().servers[0]!.circuit).toBe('open');
    const seenWhileOpen = await requestsSeen(servers[0]!);
    for (let i = 0; i < 4; i++) await p.chat(ask(`v${i}`));
    expect(await requestsSeen(servers[0]!)).toBe(seenWhileOpen); // no traffic while open
    await configure(servers[0]!, { errorRate: 0 });
    await new Promise((r) => setTimeout(r, 350));
    const probe = await Promise.all(Array.from({ length: 4 }, (_, i) => p.chat(ask(`w${i}`))));
    expect(probe.some((r) => r.server === servers[0]!.url)).toBe(true);
    expect(p.health().servers[0]!.circuit).toBe('closed');
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

  it('admits batch requests only into the capacity interactive ones leave free', async () => {
    const servers = [await sim({ latencyMs: 150 })];
    const p = pool(servers, { maxInFlightPerServer: 4, batchMaxShare: 0.5 });
    const peak = { batch: 0 };
    let chatting = false;
    const batch = Array.from({ length: 6 }, (_, i) => p.chat({ ...ask(`b${i}`), priority: 'batch' }));
    const watch = setInterval(() => {
      const inFlight = p.health().servers[0]!.inFlight - (chatting ? 1 : 0);
      peak.batch = Math.max(peak.batch, inFlight);
    }, 5);
    await new Promise((r) => setTimeout(r, 30));
    // Batch work holds half the slots; a chat request finds a free one at once.
    const waits: string[] = [];
    chatting = true;
    await p.chat({ ...ask('chat'), onWait: (e) => waits.push(e.type) });
    chatting = false;
    expect(waits).toEqual([]);
    await Promise.all(batch);
    clearInterval(watch);
    expect(peak.batch).toBe(2);
    // While chat holds three of the four slots, a batch request waits for chat to leave room.
    const chats = Array.from({ length: 3 }, (_, i) => p.chat(ask(`c${i}`)));
    await new Promise((r) => setTimeout(r, 20));
    const batchWaits: string[] = [];
    await p.chat({ ...ask('late'), priority: 'batch', onWait: (e) => batchWaits.push(e.type) });
    await Promise.all(chats);
    expect(batchWaits).toEqual(['queued', 'admitted']);
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
    expect(p.health().servers.every((s) => s.inFlight === 0)).toBe(true);
    expect(p.health().waiting).toBe(0);
  });

  it('cancels a request waiting for a slot without taking one', async () => {
    const servers = [await sim({ latencyMs: 300 })];
    const p = pool(servers, { maxInFlightPerServer: 1 });
    const busy = p.chat(ask('a'));
    const ac = new AbortController();
    const waiting = p.chat({ ...ask('b'), signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user went away')), 30);
    await expect(waiting).rejects.toThrow('user went away');
    expect(p.health().waiting).toBe(0);
    await busy;
    expect(p.health().servers[0]!.inFlight).toBe(0);
  });

  it('embeds through the pool, and the batcher coalesces concurrent callers into one request', async () => {
    const servers = [await sim()];
    const p = pool(servers);
    const embedded = await p.embed({
      userId: 'ingest',
      input: ['customer due diligence records', 'customer due diligence files'],
    });
    const [a, b] = embedded.vectors;
    // The tokens are the server's own count (the simulator's usage), reported with the vectors.
    const simStats = (await (await fetch(`${servers[0]!.url.replace(/\/v1$/, '')}/sim/stats`)).json()) as {
      usage: { byUser: Record<string, { promptTokens: number }> };
    };
    expect(embedded.promptTokens).toBeGreaterThan(0);
    expect(embedded.promptTokens).toBe(simStats.usage.byUser.ingest!.promptTokens);
    const norm = (v: number[]) => Math.sqrt(v.reduce((n, x) => n + x * x, 0));
    expect(norm(a!)).toBeCloseTo(1, 5);
    expect(a!.reduce((n, x, i) => n + x * b![i]!, 0)).toBeGreaterThan(0.5); // shared words: close
    const before = await requestsSeen(servers[0]!);
    const batcher = new EmbeddingBatcher((input) => p.embed({ userId: 'ingest', input }), {
      maxInputs: 100,
      maxWaitMs: 10,
    });
    const out = await Promise.all(['one', 'two', 'three'].map((t) => batcher.embed([t])));
    expect(out.map((v) => v.vectors.length)).toEqual([1, 1, 1]);
    expect(out.map((v) => v.promptTokens)).toEqual([1, 1, 1]);
    expect((await requestsSeen(servers[0]!)) - before).toBe(1);
  });

  it('health checks trip the circuit of a dead server and route around it', async () => {
    const servers = [await sim(), await sim()];
    const p = pool(servers, { routing: 'round-robin' });
    await servers[0]!.close();
    await p.checkHealth();
    expect(p.health().servers[0]).toMatchObject({ healthCheckOk: false, circuit: 'open' });
    for (let i = 0; i < 4; i++) expect((await p.chat(ask(`u${i}`))).server).toBe(servers[1]!.url);
  });
});
