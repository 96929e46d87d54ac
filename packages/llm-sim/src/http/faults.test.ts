import { describe, expect, it } from 'vitest';
import { json, post, readStream, root, sim } from './test-support.ts';

const hello = { messages: [{ role: 'user', content: 'hello' }] };
/** A reply of ~300 tokens: several seconds at real time, so it is still streaming when a fault hits. */
const long = { messages: [{ role: 'user', content: 'word '.repeat(300) }], stream: true };

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;
}

describe('fault knobs', () => {
  it('rate429 rejects at once with 429 and Retry-After', async () => {
    const s = await sim({ rate429: 1, retryAfterSeconds: 7 });
    const res = await post(`${s.url}/chat/completions`, hello);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toMatchObject({
      error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
    });
    expect((await post(`${s.url}/embeddings`, { input: 'x' })).status).toBe(429);
    expect(await json(fetch(`${root(s)}/sim/stats`))).toMatchObject({ requests: 2, rateLimited: 2 });
  });

  it('spikes add spikeMs to about spikeRate of requests', async () => {
    const s = await sim({ spikeRate: 1, spikeMs: 300 });
    const t0 = performance.now();
    await (await post(`${s.url}/chat/completions`, hello)).json();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    await fetch(`${root(s)}/sim/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ spikeRate: 0 }),
    });
    const t1 = performance.now();
    await (await post(`${s.url}/chat/completions`, hello)).json();
    expect(performance.now() - t1).toBeLessThan(200);
  });

  it('latencyJitterMs spreads requests over [latencyMs, latencyMs + jitter)', async () => {
    const s = await sim({ latencyMs: 50, latencyJitterMs: 300, seed: 11 });
    const took = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const t0 = performance.now();
        await (await post(`${s.url}/chat/completions`, hello)).json();
        return performance.now() - t0;
      }),
    );
    for (const ms of took) expect(ms).toBeGreaterThanOrEqual(45);
    // Twelve uniform draws over 300 ms: spread far apart, where a fixed latency would bunch them.
    expect(Math.max(...took) - Math.min(...took)).toBeGreaterThan(100);
  });

  it('hangRate leaves requests unanswered until the client gives up, and leaks no timer', async () => {
    const before = activeTimers();
    const s = await sim({ hangRate: 1 });
    const abort = new AbortController();
    const pending = post(`${s.url}/chat/completions`, hello, {}, abort.signal).catch((e: Error) => e.name);
    await expect
      .poll(async () => (await json<{ hangs: number }>(fetch(`${root(s)}/sim/stats`))).hangs)
      .toBe(1);
    abort.abort();
    expect(await pending).toBe('AbortError');

    // A hung request still pending when the simulator closes gets a 503, promptly.
    const second = post(`${s.url}/chat/completions`, hello);
    await expect
      .poll(async () => (await json<{ hangs: number }>(fetch(`${root(s)}/sim/stats`))).hangs)
      .toBe(2);
    const t0 = performance.now();
    await s.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((await second).status).toBe(503);
    await new Promise((r) => setImmediate(r));
    expect(activeTimers()).toBeLessThanOrEqual(before);
  });

  it('dropStreamRate cuts a streamed answer mid-way; non-streamed answers are untouched', async () => {
    const s = await sim({ dropStreamRate: 1 });
    const res = await post(`${s.url}/chat/completions`, { ...long, stream: true });
    expect(res.status).toBe(200);
    const { text, cut } = await readStream(res);
    expect(cut).toBe(true);
    const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.length).toBeGreaterThan(2);
    expect(text).not.toContain('[DONE]');
    const whole = await post(`${s.url}/chat/completions`, hello);
    expect(whole.status).toBe(200);
    expect(await json(fetch(`${root(s)}/sim/stats`))).toMatchObject({ droppedStreams: 1 });
    // The cut sequence was aborted in the engine.
    await expect.poll(() => s.engine.stats.running).toBe(0);
  });

  it('POST /sim/die kills the server at once, in-flight streams included', async () => {
    const s = await sim({ engine: { timeScale: 1 } });
    const res = await post(`${s.url}/chat/completions`, long);
    const reader = res.body!.getReader();
    await reader.read(); // the stream is flowing
    const die = await fetch(`${root(s)}/sim/die`, { method: 'POST' });
    expect(die.status).toBe(202);
    let cut = false;
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch {
      cut = true;
    }
    expect(cut).toBe(true);
    await s.died;
    await expect(fetch(`${root(s)}/health`)).rejects.toThrow();
    expect(s.engine.stats).toMatchObject({ running: 0, waiting: 0 });
    await s.close();
  });

  it('dieAfterRequests: the server dies as the n-th inference request arrives', async () => {
    const s = await sim({ dieAfterRequests: 3 });
    expect((await post(`${s.url}/chat/completions`, hello)).status).toBe(200);
    expect((await post(`${s.url}/completions`, { prompt: 'x' })).status).toBe(200);
    await expect(post(`${s.url}/chat/completions`, hello)).rejects.toThrow();
    await s.died;
    await expect(fetch(`${root(s)}/health`)).rejects.toThrow();
  });

  it('validates the new knobs in PUT /sim/config', async () => {
    const s = await sim();
    const put = (body: unknown) =>
      fetch(`${root(s)}/sim/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const bad of [{ rate429: 2 }, { hangRate: -1 }, { dieAfterRequests: 0 }, { spikeMs: 'x' }]) {
      expect((await put(bad)).status, JSON.stringify(bad)).toBe(400);
    }
    const ok = await put({ dropStreamRate: 0.5, dieAfterRequests: null, retryAfterSeconds: 3 });
    expect(await ok.json()).toMatchObject({
      dropStreamRate: 0.5,
      dieAfterRequests: null,
      retryAfterSeconds: 3,
    });
  });

  it('a streamed answer ends without [DONE] when the simulator closes under it', async () => {
    const s = await sim({ engine: { timeScale: 1 } });
    const res = await post(`${s.url}/chat/completions`, long);
    const reader = res.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    const closing = s.close();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } catch {
      // cut: fine too
    }
    await closing;
    expect(text).toContain('data: ');
    expect(text).not.toContain('[DONE]');
  });
});
