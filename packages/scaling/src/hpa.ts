import { HPA_TOLERANCE, type ScalingRules } from './policy.ts';

/** A raw recommendation the HPA made at `at` (seconds), kept for the stabilization windows. */
export interface Recommendation {
  at: number;
  replicas: number;
}

/** A change the HPA made at `at`: positive up, negative down; kept for the rate policies. */
export interface ScaleEvent {
  at: number;
  change: number;
}

/**
 * The HPA's replica count for an `AverageValue` external metric: ceil(backlog / target), or the
 * current count while the usage ratio is within the tolerance of 1.
 */
export function hpaDesired(backlog: number, target: number, current: number): number {
  const ratio = backlog / (target * current);
  if (Math.abs(ratio - 1) <= HPA_TOLERANCE) return current;
  return Math.ceil(backlog / target);
}

/**
 * The HPA's stabilization: scale up no further than the lowest recommendation of the scale-up
 * window, and down no further than the highest of the scale-down window (both include `desired`).
 */
export function stabilize(
  current: number,
  desired: number,
  history: readonly Recommendation[],
  now: number,
  rules: { up: ScalingRules; down: ScalingRules },
): number {
  let upBound = desired;
  let downBound = desired;
  for (const r of history) {
    if (r.at > now - rules.up.stabilizationWindowSeconds) upBound = Math.min(upBound, r.replicas);
    if (r.at > now - rules.down.stabilizationWindowSeconds) downBound = Math.max(downBound, r.replicas);
  }
  return Math.min(Math.max(current, upBound), downBound);
}

/** Replicas added (sign 1) or removed (sign -1) within the last `periodSeconds`. */
function changedWithin(
  events: readonly ScaleEvent[],
  now: number,
  periodSeconds: number,
  sign: 1 | -1,
): number {
  return events
    .filter((e) => e.at > now - periodSeconds && Math.sign(e.change) === sign)
    .reduce((n, e) => n + Math.abs(e.change), 0);
}

/** The replicas there were `periodSeconds` ago, undoing the changes made since. */
function replicasAtPeriodStart(
  current: number,
  events: readonly ScaleEvent[],
  now: number,
  periodSeconds: number,
): number {
  return (
    current - changedWithin(events, now, periodSeconds, 1) + changedWithin(events, now, periodSeconds, -1)
  );
}

/**
 * The bound the policies of `direction` put on the replicas now (up: the most, the HPA's
 * calculateScaleUpLimitWithScalingRules; else the fewest, its calculateScaleDownLimitWithBehaviors):
 * each policy's change counts from the replicas at the start of its period, percentages rounded
 * up when scaling up and down when scaling down; `Max` picks the policy allowing the most change,
 * `Min` the least.
 */
export function scaleLimit(
  direction: 'up' | 'down',
  current: number,
  events: readonly ScaleEvent[],
  now: number,
  rules: ScalingRules,
): number {
  const up = direction === 'up';
  const proposals = rules.policies.map((p) => {
    const start = replicasAtPeriodStart(current, events, now, p.periodSeconds);
    if (p.type === 'Pods') return up ? start + p.value : start - p.value;
    return up ? Math.ceil(start * (1 + p.value / 100)) : Math.trunc(start * (1 - p.value / 100));
  });
  const most = up === (rules.selectPolicy === 'Max');
  const limit = most ? Math.max(...proposals) : Math.min(...proposals);
  return up ? Math.max(limit, current) : Math.min(limit, current);
}
