import type { FleetConfig } from '@agent-fleet/core';

/** One HPA scaling policy: at most `value` pods, or `value` percent, of change per `periodSeconds`. */
export interface RatePolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

/** HPA scaling rules of one direction, as `spec.behavior.scaleUp` / `scaleDown` say them. */
export interface ScalingRules {
  /** The highest (down) or lowest (up) recommendation of this window is used: no flapping. */
  stabilizationWindowSeconds: number;
  /** `Max`: the policy allowing the most change wins; `Min`: the least. */
  selectPolicy: 'Max' | 'Min';
  policies: RatePolicy[];
}

/**
 * The workers' scaling policy in KEDA's terms. The local autoscaler, `fleet scale simulate` and the
 * generated ScaledObject all take this one object, so the three cannot disagree.
 */
export interface ScalingPolicy {
  minReplicas: number;
  maxReplicas: number;
  /** Backlog one replica is meant to hold: desired = ceil(backlog / target). */
  targetBacklog: number;
  /** A backlog above this activates scaling from zero (KEDA's activationThreshold). */
  activationBacklog: number;
  /** How often the backlog is read (KEDA's pollingInterval). */
  pollingSeconds: number;
  /** With minReplicas 0: how long after the backlog was last over the activation the last replica goes. */
  cooldownSeconds: number;
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

/**
 * The HPA's tolerance: no change while backlog / (target × replicas) is within 10% of 1
 * (kube-controller-manager's default `--horizontal-pod-autoscaler-tolerance`).
 */
export const HPA_TOLERANCE = 0.1;

type AutoscaleSettings = Pick<
  FleetConfig,
  | 'AUTOSCALE_MIN_WORKERS'
  | 'AUTOSCALE_MAX_WORKERS'
  | 'AUTOSCALE_TARGET_BACKLOG'
  | 'AUTOSCALE_ACTIVATION_BACKLOG'
  | 'AUTOSCALE_POLLING_SECONDS'
  | 'AUTOSCALE_COOLDOWN_SECONDS'
  | 'AUTOSCALE_UP_STABILIZATION_SECONDS'
  | 'AUTOSCALE_DOWN_STABILIZATION_SECONDS'
  | 'AUTOSCALE_UP_PODS'
  | 'AUTOSCALE_UP_PERCENT'
  | 'AUTOSCALE_DOWN_PERCENT'
  | 'AUTOSCALE_RATE_PERIOD_SECONDS'
>;

/**
 * The policy from the AUTOSCALE_* settings. Scale-up may add AUTOSCALE_UP_PODS or
 * AUTOSCALE_UP_PERCENT per period, whichever is more (the HPA's default is 4 pods or 100% per 15 s);
 * scale-down may remove AUTOSCALE_DOWN_PERCENT per period.
 */
export function scalingPolicyFromConfig(config: AutoscaleSettings): ScalingPolicy {
  const periodSeconds = config.AUTOSCALE_RATE_PERIOD_SECONDS;
  return {
    minReplicas: config.AUTOSCALE_MIN_WORKERS,
    maxReplicas: config.AUTOSCALE_MAX_WORKERS,
    targetBacklog: config.AUTOSCALE_TARGET_BACKLOG,
    activationBacklog: config.AUTOSCALE_ACTIVATION_BACKLOG,
    pollingSeconds: config.AUTOSCALE_POLLING_SECONDS,
    cooldownSeconds: config.AUTOSCALE_COOLDOWN_SECONDS,
    scaleUp: {
      stabilizationWindowSeconds: config.AUTOSCALE_UP_STABILIZATION_SECONDS,
      selectPolicy: 'Max',
      policies: [
        { type: 'Pods', value: config.AUTOSCALE_UP_PODS, periodSeconds },
        { type: 'Percent', value: config.AUTOSCALE_UP_PERCENT, periodSeconds },
      ],
    },
    scaleDown: {
      stabilizationWindowSeconds: config.AUTOSCALE_DOWN_STABILIZATION_SECONDS,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: config.AUTOSCALE_DOWN_PERCENT, periodSeconds }],
    },
  };
}
