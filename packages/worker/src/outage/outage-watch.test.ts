import { createLogger } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { type DependencyProbe, OutageWatch } from './outage-watch.ts';

const logger = createLogger('outage-watch-test', 'silent');

/** A probe the test switches up and down. */
function switchable(dependency: DependencyProbe['dependency'], up = true) {
  const state = { up, checks: 0 };
  const probe: DependencyProbe = {
    dependency,
    up: async () => {
      state.checks++;
      return state.up;
    },
  };
  return { state, probe };
}

describe('OutageWatch (fake probes)', () => {
  it('finds a dependency away, keeps since when, polls it, and wakes everyone once it is back', async () => {
    const pg = switchable('postgres', false);
    const llm = switchable('llm');
    let now = 1000;
    const watch = new OutageWatch({ probes: [pg.probe, llm.probe], logger, pollMs: 20, now: () => now });
    let recovered = 0;
    watch.onRecovered(() => recovered++);

    expect(await watch.check()).toEqual([{ dependency: 'postgres', since: 1000 }]);
    now = 5000;
    expect(await watch.check()).toEqual([{ dependency: 'postgres', since: 1000 }]);
    const waiting = watch.whenUp(10_000);
    const polled = pg.state.checks;
    await new Promise((r) => setTimeout(r, 70));
    expect(pg.state.checks).toBeGreaterThan(polled);

    pg.state.up = true;
    await waiting;
    expect(watch.down()).toEqual([]);
    expect(recovered).toBe(1);
    // Nothing away: no polling, and whenUp resolves at once.
    const checks = pg.state.checks;
    await watch.whenUp(10_000);
    await new Promise((r) => setTimeout(r, 60));
    expect(pg.state.checks).toBe(checks);
    watch.close();
  });

  it('concurrent checks share one round of probes', async () => {
    const pg = switchable('postgres', false);
    const watch = new OutageWatch({ probes: [pg.probe], logger, pollMs: 10_000 });
    await Promise.all([watch.check(), watch.check(), watch.check()]);
    expect(pg.state.checks).toBe(1);
    watch.close();
  });

  it('a probe that does not answer in time counts as away; whenUp gives up after its delay or on abort', async () => {
    const hung: DependencyProbe = { dependency: 'redis', up: () => new Promise(() => {}) };
    const watch = new OutageWatch({ probes: [hung], logger, pollMs: 10_000, probeTimeoutMs: 30 });
    expect((await watch.check()).map((d) => d.dependency)).toEqual(['redis']);
    const started = Date.now();
    await watch.whenUp(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const abort = new AbortController();
    const waiting = watch.whenUp(10_000, abort.signal);
    abort.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    watch.close();
  });

  it('a nudge checks at once instead of at the next poll', async () => {
    const llm = switchable('llm', false);
    const watch = new OutageWatch({ probes: [llm.probe], logger, pollMs: 60_000 });
    await watch.check();
    llm.state.up = true;
    const waiting = watch.whenUp(60_000);
    watch.nudge();
    await waiting;
    expect(watch.down()).toEqual([]);
    watch.close();
  });
});
