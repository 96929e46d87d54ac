import { createPoolMetrics } from '@agent-fleet/llm';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LlmServerWindow } from './llm-view.ts';
import { TenantTokenWindow } from './tenant-tokens.ts';
import { WindowedCounters } from './windowed-counters.ts';

describe('WindowedCounters', () => {
  it('reads what counters gained over the window, dropping samples it no longer needs', () => {
    const w = new WindowedCounters(60_000);
    expect(w.gained()).toEqual(new Map());
    w.sample(0, new Map([['a', 5]]));
    w.sample(30_000, new Map([['a', 8]]));
    w.sample(
      60_000,
      new Map([
        ['a', 10],
        ['b', 3],
      ]),
    );
    expect(w.gained()).toEqual(
      new Map([
        ['a', 5],
        ['b', 3],
      ]),
    );
    w.sample(
      90_000,
      new Map([
        ['a', 20],
        ['b', 3],
      ]),
    );
    // The sample at 0 left the window; the one at 30 s still opens it.
    expect(w.gained()).toEqual(
      new Map([
        ['a', 12],
        ['b', 3],
      ]),
    );
    expect(w.spanSeconds()).toBe(60);
  });
});

describe('TenantTokenWindow', () => {
  it('sums each tenant’s prompt and completion tokens over the last minute', () => {
    const t = new TenantTokenWindow(60_000);
    expect(t.read(0)).toEqual([]);
    t.add('acme', 100, 10);
    t.add('globex', 50, 5);
    t.add('acme', 200, 20);
    expect(t.read(1000)).toEqual([
      { tenant: 'acme', promptTokens: 300, completionTokens: 30 },
      { tenant: 'globex', promptTokens: 50, completionTokens: 5 },
    ]);
    // A minute with nothing new: nobody is listed.
    t.read(61_000);
    expect(t.read(122_000)).toEqual([]);
  });
});

describe('LlmServerWindow', () => {
  it('reads each server from the pool’s own metrics: now, and over the window', async () => {
    const metrics = createPoolMetrics(new Registry());
    const servers = ['http://a', 'http://b'];
    const view = new LlmServerWindow({ metrics, servers, windowMs: 60_000 });
    await view.read(0);
    metrics.inFlight.set({ server: 'http://a' }, 3);
    metrics.breaker.set({ server: 'http://b' }, 2);
    metrics.serverWaiting.set({ server: 'http://a' }, 4);
    metrics.requests.inc({ server: 'http://a', outcome: 'ok' }, 8);
    metrics.requests.inc({ server: 'http://a', outcome: 'retry' }, 1);
    metrics.requests.inc({ server: 'http://a', outcome: 'error' }, 1);
    metrics.ttft.observe({ server: 'http://a' }, 0.2);
    metrics.ttft.observe({ server: 'http://a' }, 0.4);
    metrics.tokens.inc({ server: 'http://a', kind: 'prompt' }, 1000);
    metrics.tokens.inc({ server: 'http://a', kind: 'cached' }, 800);
    metrics.tokens.inc({ server: 'http://a', kind: 'completion' }, 50);
    const [a, b] = await view.read(1000);
    expect(a).toEqual({
      server: 'http://a',
      inFlight: 3,
      circuit: 'closed',
      serverWaiting: 4,
      kvCacheUsage: 0,
      requests: 10,
      errors: 2,
      ttftSeconds: expect.closeTo(0.6, 6),
      ttftCount: 2,
      promptTokens: 1000,
      cachedTokens: 800,
      completionTokens: 50,
    });
    expect(b).toMatchObject({ server: 'http://b', circuit: 'open', requests: 0, inFlight: 0 });
  });
});
