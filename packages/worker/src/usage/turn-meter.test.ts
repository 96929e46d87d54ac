import { createLogger, tenantKeys, userKeys } from '@agent-fleet/core';
import { LlmPool } from '@agent-fleet/llm';
import { startSim } from '@agent-fleet/llm-sim';
import { PoolEmbedder } from '@agent-fleet/rag';
import { QuotaBook, usageLinesOf } from '@agent-fleet/turns';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../../test/support/stack.ts';
import { createWorkerMetrics } from '../metrics.ts';
import { type SoftThresholdEvent, UsageMeter } from './meter.ts';
import { TurnMeter } from './turn-meter.ts';

interface Reported {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  requests: number;
}

/** A turn's metering with real Redis and the simulator over HTTP: what is counted is what was reported. */
describe('TurnMeter (real Redis, the simulator over HTTP)', () => {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  let sim: Awaited<ReturnType<typeof startSim>>;
  let llm: LlmPool;
  const ns = freshNamespace();
  const book = new QuotaBook({ redis, namespace: ns });
  const events: SoftThresholdEvent[] = [];
  const metrics = createWorkerMetrics();
  const meter = new UsageMeter(
    { quotas: book, metrics, announce: (e) => events.push(e), logger: createLogger('meter-test', 'silent') },
    { holdTokens: 50, holdMs: 60_000 },
  );
  const reported = async () =>
    (
      (await (await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/stats`)).json()) as {
        usage: { byUser: Record<string, Reported> };
      }
    ).usage.byUser;

  beforeAll(async () => {
    sim = await startSim({ engine: { timeScale: 0 } });
    llm = new LlmPool({ servers: [sim.url], apiKey: 'k', model: 'fleet-sim', healthIntervalMs: 0 });
  });
  afterAll(async () => {
    llm.close();
    await sim.close();
    await redis.quit();
  });

  it('counts chat calls, streamed or not, and embeddings in the turn’s record as the servers reported them', async () => {
    const turn = new TurnMeter(meter, llm, { tenant: 'acme', userId: 'ann', turnId: 't_1' }, (e) => {
      throw e;
    });
    const chat = turn.llm('chat');
    const ask = { userId: 'ann', messages: [{ role: 'user' as const, content: 'What is the gift limit?' }] };
    await chat.chat(ask);
    for await (const ev of chat.chatStream(ask))
      if (ev.type === 'done') expect(ev.result.model).toBe('fleet-sim');
    const embedder = new PoolEmbedder({
      pool: llm,
      model: 'fleet-sim',
      dimensions: 16,
      sendDimensions: true,
    });
    await embedder.embed(['gift limit', 'hospitality register'], { onUsage: turn.onEmbedding });
    await turn.flush();

    const sim = await reported();
    const lines = usageLinesOf(await redis.hgetall(userKeys(ns, 'ann').record('t_1')));
    const byKind = Object.fromEntries(lines.map((l) => [l.kind, l]));
    expect(byKind.chat).toEqual({
      kind: 'chat',
      model: 'fleet-sim',
      promptTokens: sim.ann!.promptTokens,
      completionTokens: sim.ann!.completionTokens,
      cachedTokens: sim.ann!.cachedTokens,
      calls: 2,
    });
    // Embeddings go out under the embedder's routing key; the turn is charged what came back.
    expect(byKind.embedding).toMatchObject({ promptTokens: sim.embeddings!.promptTokens, calls: 1 });
    const billable = sim.ann!.promptTokens + sim.ann!.completionTokens + sim.embeddings!.promptTokens;
    expect(turn.tokens).toBe(billable);
    // The budgets counted the same, and nothing is held once the calls are settled.
    const tenant = await book.status({ scope: 'tenant', tenant: 'acme' });
    expect(tenant.windows[0]!.used).toBe(billable);
    expect(tenant.held).toBe(0);
    expect(Number(await redis.hget(userKeys(ns, 'ann').held, '_total'))).toBe(0);
  });

  it('refuses a call once a budget is used up, makes no request, and holds nothing', async () => {
    const used = (await book.status({ scope: 'tenant', tenant: 'acme' })).windows[0]!.used;
    await book.putTenant('acme', { weight: 1, day: used + 5, softThreshold: 0.5 });
    const before = (await reported()).ann!.requests;
    const turn = new TurnMeter(meter, llm, { tenant: 'acme', userId: 'ann', turnId: 't_2' }, () => {});
    const ask = { userId: 'ann', messages: [{ role: 'user' as const, content: 'One more?' }] };
    // Room for one call (used < limit): it goes through and passes the budget by its excess.
    await turn.llm().chat(ask);
    await expect(turn.llm().chat(ask)).rejects.toMatchObject({
      code: 'quota_exceeded',
      isRetryable: false,
      details: { scope: 'tenant', subject: 'acme', window: 'day', limit: used + 5 },
    });
    expect((await reported()).ann!.requests).toBe(before + 1);
    expect(Number(await redis.hget(tenantKeys(ns, 'acme').held, '_total'))).toBe(0);
    expect(Number(await redis.hget(userKeys(ns, 'ann').held, '_total'))).toBe(0);
    const exceeded = (await metrics.quotaExceeded.get()).values;
    expect(exceeded).toEqual([
      expect.objectContaining({ labels: { tenant: 'acme', scope: 'tenant', window: 'day' }, value: 1 }),
    ]);
  });

  it('announces a soft threshold once, when a call crosses it', async () => {
    await book.putTenant('beta', { weight: 1, month: 10_000, softThreshold: 0.0001 });
    const turn = new TurnMeter(meter, llm, { tenant: 'beta', userId: 'bo', turnId: 't_3' }, () => {});
    const ask = { userId: 'bo', messages: [{ role: 'user' as const, content: 'Hello there' }] };
    await turn.llm().chat(ask);
    await turn.llm().chat(ask);
    expect(events.filter((e) => e.tenant === 'beta')).toEqual([
      expect.objectContaining({ type: 'soft_threshold', scope: 'tenant', subject: 'beta', window: 'month' }),
    ]);
  });
});
