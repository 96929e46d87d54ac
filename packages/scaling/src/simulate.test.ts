import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { simulate, simulateIdeal } from './simulate.ts';
import { withHpaRates } from './testing/policy.ts';
import { parseTrace } from './trace.ts';

const policy = withHpaRates(
  {
    minReplicas: 1,
    maxReplicas: 20,
    targetBacklog: 48,
    activationBacklog: 0,
    pollingSeconds: 5,
    cooldownSeconds: 60,
  },
  60,
);
const worker = { throughput: 20, slots: 64, startupSeconds: 10 };
const spike = parseTrace(readFileSync(new URL('../traces/spike.csv', import.meta.url), 'utf8'), 'spike');

describe('simulating a load trace through the policy', () => {
  it('does every message of the trace, and no more', () => {
    const flat = parseTrace('0,50\n600,50', 'flat');
    for (const r of [simulate(flat, policy, worker), simulateIdeal(flat, policy, worker)]) {
      const arrived = r.timeline.reduce((n, p) => n + p.rate, 0);
      expect(arrived).toBeCloseTo(50 * 601, -2);
      expect(r.drainAfterEnd).toBeLessThan(30);
      expect(r.timeline.at(-1)!.backlog).toBeLessThan(0.5);
    }
  });

  it('lags an ideal autoscaler through a spike: a higher peak, longer waits, a finite drain', () => {
    const heavy = { ...worker, throughput: 200 };
    const real = simulate(spike, policy, heavy);
    const ideal = simulateIdeal(spike, policy, heavy);
    expect(real.peakBacklog).toBeGreaterThan(2 * ideal.peakBacklog);
    expect(real.timeInSystem.max).toBeGreaterThan(ideal.timeInSystem.max + 10);
    expect(real.peakBacklogAt).toBeGreaterThan(300);
    // The backlog asks for more than the arrival rate needs (15 workers): up to max while it drains.
    expect(ideal.peakReplicas).toBeGreaterThanOrEqual(15);
    expect(ideal.peakReplicas).toBeLessThanOrEqual(16);
    expect(real.peakReplicas).toBe(policy.maxReplicas);
    expect(Number.isFinite(real.drainAfterEnd)).toBe(true);
    // Scaled up for the spike, then back down to the baseline's two workers, never below min.
    const ups = real.decisions.filter((d) => d.to > d.from);
    const downs = real.decisions.filter((d) => d.to < d.from);
    // Settled on the baseline (200/s, two workers) after the start, up again only for the spike.
    expect(real.decisions.filter((d) => d.at > 120 && d.at < 300)).toEqual([]);
    expect(ups.find((d) => d.at > 120)!.at).toBeGreaterThanOrEqual(300);
    expect(downs.at(-1)!.to).toBe(2);
    expect(Math.min(...real.timeline.map((p) => p.replicas))).toBe(1);
  });

  it("oscillates at a steady load when the target is all of a worker's slots, not at three quarters", () => {
    const steady = parseTrace('0,200\n600,200', 'steady');
    const heavy = { ...worker, throughput: 200 };
    const changesAfterStart = (targetBacklog: number) =>
      simulate(steady, { ...policy, targetBacklog, pollingSeconds: 5 }, heavy).decisions.filter(
        (d) => d.at > 120,
      ).length;
    // A full worker is at capacity: the backlog asks for the next one only once turns queue.
    expect(changesAfterStart(64)).toBeGreaterThanOrEqual(10);
    expect(changesAfterStart(48)).toBe(0);
  });

  it('waits the start-up time before a new replica takes jobs', () => {
    const burst = parseTrace('0,0\n1,5000\n2,0\n3,0', 'burst');
    const r = simulate(burst, { ...policy, pollingSeconds: 1 }, worker);
    const firstUp = r.decisions.find((d) => d.to > d.from)!;
    const before = r.timeline.filter((p) => p.at > firstUp.at && p.at < firstUp.at + worker.startupSeconds);
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((p) => p.ready === 1 && p.replicas > 1)).toBe(true);
    expect(r.timeline.find((p) => p.at >= firstUp.at + worker.startupSeconds)!.ready).toBe(firstUp.to);
  });
});
