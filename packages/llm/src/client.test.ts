import { FleetError } from '@agent-fleet/core';
import { type RunningSim, startSim } from '@agent-fleet/llm-sim';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmClient } from './client.ts';
import { createHttpFetch } from './http-fetch.ts';

describe('LlmClient against the simulator over HTTP', () => {
  let sim: RunningSim;
  let failing: RunningSim;
  beforeAll(async () => {
    sim = await startSim({ rules: [{ match: { user: 'slow' }, latencyMs: 2000 }] });
    failing = await startSim({ errorRate: 1 });
  });
  afterAll(async () => {
    await sim?.close();
    await failing?.close();
  });

  const client = (url: string, maxRetries = 0) =>
    new LlmClient({ baseUrls: [url], apiKey: 'k', model: 'fleet-sim', timeoutMs: 10_000, maxRetries });

  it('returns the reply and token usage', async () => {
    const res = await client(sim.url).chat({
      userId: 'alice',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello there' },
      ],
    });
    expect(res.content).toBe('Echo [n=2]: hello there');
    expect(res.promptTokens).toBeGreaterThan(0);
    expect(res.completionTokens).toBeGreaterThan(0);
    expect(res.server).toBe(sim.url);
  });

  it('sends the user as the OpenAI user field and the x-user-id header', async () => {
    await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/stats/reset`, { method: 'POST' });
    await client(sim.url).chat({ userId: 'carol', messages: [{ role: 'user', content: 'hi' }] });
    const stats = (await (await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/stats`)).json()) as {
      byUser: Record<string, number>;
    };
    expect(stats.byUser).toEqual({ carol: 1 });
  });

  it('turns a 5xx into a retryable FleetError after the retries', async () => {
    const err = await client(failing.url, 1)
      .chat({ userId: 'bob', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetError);
    expect(err).toMatchObject({ code: 'upstream_error', isRetryable: true });
    expect((err as Error).message).toMatch(/HTTP 500/);
  });

  it('turns a 400 into a non-retryable FleetError', async () => {
    const err = await client(sim.url)
      .chat({ userId: 'bob', messages: [] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'upstream_error', isRetryable: false });
  });

  it('stops waiting when the signal aborts', async () => {
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 100);
    await expect(
      client(sim.url).chat({
        userId: 'slow',
        messages: [{ role: 'user', content: 'hi' }],
        signal: ac.signal,
      }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('its fetch streams server-sent events through the openai package', async () => {
    const openai = new OpenAI({ baseURL: sim.url, apiKey: 'k', fetch: createHttpFetch(), maxRetries: 0 });
    const stream = await openai.chat.completions.create({
      model: 'fleet-sim',
      stream: true,
      messages: [{ role: 'user', content: 'stream me please' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Echo [n=1]: stream me please');
  });
});
