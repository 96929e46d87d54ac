import { hpaDesired, type Recommendation, type ScaleEvent, scaleLimit, stabilize } from './hpa.ts';
import type { ScalingPolicy } from './policy.ts';

/** What one look at the backlog decided. Times are in seconds. */
export interface ScaleDecision {
  at: number;
  backlog: number;
  /** The backlog is over the activation threshold. */
  active: boolean;
  from: number;
  to: number;
  /** The HPA's raw recommendation; undefined when KEDA alone decided (from or to zero, or idle). */
  desired: number | undefined;
  /** Why `to` is what it is, in one line (`npm start` prints it). */
  why: string;
}

/**
 * KEDA's and the HPA's decision, step by step, over one backlog reading at a time:
 * - KEDA: a backlog over the activation threshold makes the scaler active; from zero replicas an
 *   active scaler goes to max(min, 1) at once; with `minReplicas` 0, the last replica goes once the
 *   scaler has been inactive for the cooldown.
 * - HPA (one or more replicas): desired = ceil(backlog / target) unless within the 10% tolerance,
 *   stabilized over the scale-up and scale-down windows, limited by the rate policies and by
 *   max(min, 1)..max.
 * One reading per polling interval stands for KEDA's poll and the HPA's sync together. The caller
 * applies `to`: the next reading takes it as the current count.
 */
export class Autoscaler {
  readonly policy: ScalingPolicy;
  #replicas: number;
  #lastActiveAt: number;
  #history: Recommendation[] = [];
  #events: ScaleEvent[] = [];

  constructor(policy: ScalingPolicy, opts: { now: number; replicas?: number }) {
    this.policy = policy;
    this.#replicas = opts.replicas ?? policy.minReplicas;
    this.#lastActiveAt = opts.now;
  }

  get replicas(): number {
    return this.#replicas;
  }

  observe(backlog: number, now: number): ScaleDecision {
    const p = this.policy;
    const active = backlog > p.activationBacklog;
    if (active) this.#lastActiveAt = now;
    const from = this.#replicas;
    const base = { at: now, backlog, active, from };
    if (from === 0) {
      if (!active)
        return {
          ...base,
          to: 0,
          desired: undefined,
          why: `backlog ${backlog} is not over the activation ${p.activationBacklog}`,
        };
      return this.#set({
        ...base,
        to: Math.max(p.minReplicas, 1),
        desired: undefined,
        why: `backlog ${backlog} is over the activation ${p.activationBacklog}: activated`,
      });
    }
    if (p.minReplicas === 0 && !active && now - this.#lastActiveAt >= p.cooldownSeconds) {
      this.#history = [];
      return this.#set({
        ...base,
        to: 0,
        desired: undefined,
        why: `backlog not over the activation ${p.activationBacklog} for the ${p.cooldownSeconds} s cooldown`,
      });
    }
    return this.#set(this.#hpa(backlog, now, base));
  }

  #hpa(backlog: number, now: number, base: Omit<ScaleDecision, 'to' | 'desired' | 'why'>): ScaleDecision {
    const p = this.policy;
    const current = base.from;
    const desired = hpaDesired(backlog, p.targetBacklog, current);
    const why: string[] = [
      desired === current && Math.ceil(backlog / p.targetBacklog) !== current
        ? `backlog ${backlog} is within 10% of ${current} × target ${p.targetBacklog}`
        : `backlog ${backlog} / target ${p.targetBacklog} → ${desired}`,
    ];
    const stable = stabilize(current, desired, this.#history, now, { up: p.scaleUp, down: p.scaleDown });
    this.#history = [
      ...this.#history.filter((r) => r.at > now - this.#window()),
      { at: now, replicas: desired },
    ];
    if (stable !== desired) {
      const dir = desired > current ? 'up' : 'down';
      const win = dir === 'up' ? p.scaleUp : p.scaleDown;
      why.push(`held at ${stable} by the ${win.stabilizationWindowSeconds} s scale-${dir} window`);
    }
    return { ...base, desired, to: this.#bounded(current, stable, now, why), why: why.join(', ') };
  }

  /** The rate policies and min/max (the HPA's convertDesiredReplicasWithBehaviorRate). */
  #bounded(current: number, wanted: number, now: number, why: string[]): number {
    const p = this.policy;
    const min = Math.max(p.minReplicas, 1);
    if (wanted > current) {
      const rate = scaleLimit('up', current, this.#events, now, p.scaleUp);
      const allowed = Math.min(p.maxReplicas, rate);
      if (wanted <= allowed) return wanted;
      why.push(
        allowed === p.maxReplicas
          ? `capped at max ${p.maxReplicas}`
          : `limited to ${allowed} by the scale-up rate`,
      );
      return allowed;
    }
    if (wanted < current) {
      const allowed = Math.max(min, scaleLimit('down', current, this.#events, now, p.scaleDown));
      if (wanted >= allowed) return wanted;
      why.push(allowed === min ? `kept at min ${min}` : `limited to ${allowed} by the scale-down rate`);
      return allowed;
    }
    return wanted;
  }

  #window(): number {
    const p = this.policy;
    return Math.max(p.scaleUp.stabilizationWindowSeconds, p.scaleDown.stabilizationWindowSeconds);
  }

  #set(decision: ScaleDecision): ScaleDecision {
    const change = decision.to - decision.from;
    if (change !== 0 && decision.desired !== undefined) {
      const longest = Math.max(
        ...[...this.policy.scaleUp.policies, ...this.policy.scaleDown.policies].map((r) => r.periodSeconds),
      );
      this.#events = [
        ...this.#events.filter((e) => e.at > decision.at - longest),
        { at: decision.at, change },
      ];
    }
    this.#replicas = decision.to;
    return decision;
  }
}

/** One line per decision, e.g. "backlog 2000 / target 64 → 32, capped at max 4: 1 → 4 workers". */
export function describeDecision(d: ScaleDecision, unit = 'workers'): string {
  const change = d.to === d.from ? `stays at ${d.to} ${unit}` : `${d.from} → ${d.to} ${unit}`;
  return `${d.why}: ${change}`;
}
