import { FleetError } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import type { DownDependency } from '../outage/outage-watch.ts';
import { OutageRide, outageReason, type WaitingOn } from './outage-ride.ts';

const away = () => new FleetError('unavailable', 'connect ECONNREFUSED 127.0.0.1:5432');
const policy = { windowMs: 60_000, baseDelayMs: 10, maxDelayMs: 40 };

/** A ride over a fake watch: `down` is what every check finds, `now` the clock. */
function ride(opts: { down?: DownDependency[]; now?: () => number; upAfterMs?: number } = {}) {
  const waits: { on: WaitingOn; retryInMs: number }[] = [];
  const r = new OutageRide({
    watch: {
      check: async () => opts.down ?? [],
      whenUp: (maxMs, signal) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, Math.min(maxMs, opts.upAfterMs ?? maxMs));
          signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(signal.reason);
          });
        }),
    },
    policy,
    onWaiting: (on, retryInMs) => waits.push({ on, retryInMs }),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { r, waits };
}

describe('OutageRide: one delivery waiting out outages', () => {
  it('waits for the dependency found away, at most a growing delay, and tells the watchers', async () => {
    const { r, waits } = ride({ down: [{ dependency: 'postgres', since: Date.now() }] });
    for (let i = 0; i < 4; i++) expect(await r.wait(away())).toBeNull();
    expect(waits.map((w) => w.on)).toEqual(['postgres', 'postgres', 'postgres', 'postgres']);
    for (const w of waits) {
      expect(w.retryInMs).toBeGreaterThanOrEqual(10);
      expect(w.retryInMs).toBeLessThanOrEqual(50);
    }
  });

  it('a blip nobody finds away is tried again after the delay', async () => {
    const { r, waits } = ride();
    const started = Date.now();
    expect(await r.wait(away())).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(9);
    expect(waits).toEqual([{ on: 'dependency', retryInMs: expect.any(Number) }]);
  });

  it('past the window, gives the reason: what was away, for how long', async () => {
    let now = 100_000;
    const { r, waits } = ride({ down: [{ dependency: 'llm', since: 100_000 }], now: () => now });
    expect(await r.wait(away())).toBeNull();
    now += 61_000;
    expect(await r.wait(away())).toBe(
      'every LLM server was down for 61 s, longer than the outage window (60 s): connect ECONNREFUSED 127.0.0.1:5432',
    );
    expect(waits).toHaveLength(1);
  });

  it('the window counts from when the dependency went away, not from when this turn met it', async () => {
    const now = 500_000;
    const { r } = ride({ down: [{ dependency: 'postgres', since: now - 70_000 }], now: () => now });
    expect(await r.wait(away())).toMatch(/^Postgres was unreachable for 70 s/);
  });

  it('a cancellation while waiting stops the wait with its reason', async () => {
    const { r } = ride({ down: [{ dependency: 'postgres', since: Date.now() }], upAfterMs: 10_000 });
    const abort = new AbortController();
    const waiting = r.wait(away(), abort.signal);
    abort.abort(new Error('cancelled by request'));
    await expect(waiting).rejects.toThrow('cancelled by request');
  });

  it('names every dependency away, or says it is not known which', () => {
    const down: DownDependency[] = [
      { dependency: 'postgres', since: 0 },
      { dependency: 'redis', since: 0 },
    ];
    expect(outageReason(down, new Error('x'), 90_000, 60_000)).toBe(
      'Postgres was unreachable and Redis was unreachable for 90 s, longer than the outage window (60 s): x',
    );
    expect(outageReason([], new Error('x'), 1500, 1000)).toMatch(/^a dependency was unreachable for 2 s/);
  });
});
