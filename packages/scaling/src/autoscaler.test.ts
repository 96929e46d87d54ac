import { describe, expect, it } from 'vitest';
import { Autoscaler, describeDecision } from './autoscaler.ts';
import type { ScalingPolicy } from './policy.ts';
import { withHpaRates } from './testing/policy.ts';

const policy = (over: Partial<ScalingPolicy> = {}): ScalingPolicy => ({
  ...withHpaRates(
    {
      minReplicas: 0,
      maxReplicas: 50,
      targetBacklog: 64,
      activationBacklog: 0,
      pollingSeconds: 1,
      cooldownSeconds: 30,
    },
    20,
  ),
  ...over,
});

/** Feeds (time, backlog) readings to a scaler starting at `replicas` and returns the replica count after each. */
function replay(p: ScalingPolicy, replicas: number | undefined, ...readings: [number, number][]): number[] {
  const scaler = new Autoscaler(p, { now: 0, ...(replicas === undefined ? {} : { replicas }) });
  return readings.map(([t, b]) => scaler.observe(b, t).to);
}

describe('the autoscaler (KEDA + HPA)', () => {
  it('activates from zero on a backlog over the activation threshold, then the HPA takes over', () => {
    const p = policy({ activationBacklog: 5 });
    expect(replay(p, undefined, [1, 0], [2, 5], [3, 2000], [4, 2000])).toEqual([0, 0, 1, 5]);
    const scaler = new Autoscaler(policy({ maxReplicas: 4 }), { now: 0 });
    scaler.observe(2000, 1);
    const d = scaler.observe(2000, 2);
    expect(d).toMatchObject({ from: 1, to: 4, desired: 32 });
    expect(describeDecision(d)).toBe('backlog 2000 / target 64 → 32, capped at max 4: 1 → 4 workers');
  });

  it('adds at most 4 pods or 100% per 15 s, counting what it added within the period', () => {
    // 1 → 5 (1 + 4 beats 1 × 2); within 15 s no more; then 5 → 10 (5 × 2 beats 5 + 4).
    expect(replay(policy(), 1, [0, 3000], [1, 3000], [10, 3000], [17, 3000])).toEqual([5, 5, 5, 10]);
  });

  it('keeps the count while the backlog is within 10% of the target', () => {
    expect(replay(policy(), 4, [0, 270], [1, 230], [2, 300])).toEqual([4, 4, 5]);
  });

  it('scales down only to the highest recommendation of the scale-down window', () => {
    const p = policy({ minReplicas: 1 });
    // Recommended 4 at t=0; zero backlog from t=5 on: held at 4 until t=0 leaves the 20 s window.
    expect(replay(p, 4, [0, 256], [5, 0], [19, 0], [21, 0])).toEqual([4, 4, 4, 1]);
  });

  it('limits scale-down by the percent policy (rounded down, as the HPA does)', () => {
    const p = policy({
      minReplicas: 1,
      scaleDown: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 25, periodSeconds: 60 }],
      },
    });
    expect(replay(p, 8, [0, 0], [30, 0], [61, 0])).toEqual([6, 6, 4]);
  });

  it('with min 0, removes the last replica once the backlog was not over the activation for the cooldown', () => {
    const p = policy({
      cooldownSeconds: 30,
      scaleDown: { ...policy().scaleDown, stabilizationWindowSeconds: 0 },
    });
    const scaler = new Autoscaler(p, { now: 0 });
    expect(scaler.observe(100, 1).to).toBe(1);
    expect(scaler.observe(100, 2).to).toBe(2);
    expect(scaler.observe(0, 3)).toMatchObject({ to: 1, why: expect.stringMatching(/kept at min 1/) });
    expect(scaler.observe(0, 31).to).toBe(1);
    const off = scaler.observe(0, 32);
    expect(off.to).toBe(0);
    expect(describeDecision(off)).toBe(
      'backlog not over the activation 0 for the 30 s cooldown: 1 → 0 workers',
    );
    expect(scaler.observe(0, 100).to).toBe(0);
  });

  it('never goes below min or above max', () => {
    const p = policy({ minReplicas: 2, maxReplicas: 3 });
    expect(replay(p, 2, [0, 0], [30, 0], [31, 100_000], [60, 100_000])).toEqual([2, 2, 3, 3]);
  });
});
