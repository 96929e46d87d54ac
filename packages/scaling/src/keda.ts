import { BACKLOG_METRIC } from '@agent-fleet/core';
import type { ScalingPolicy, ScalingRules } from './policy.ts';

/** A PromQL string literal's content: backslashes and double quotes escaped. */
const promString = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
const regexEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The PromQL of the fleet's backlog: every gateway replica exports the same gauge, so the highest
 * value per queue is taken (replicas never add up), then summed over exactly the work queues of the
 * catalogue, in one Kubernetes namespace.
 */
export function backlogQuery(queueNames: readonly string[], namespace: string): string {
  const queues = promString(queueNames.map(regexEscape).join('|'));
  return `sum(max by (queue) (${BACKLOG_METRIC}{namespace="${promString(namespace)}",queue=~"${queues}"}))`;
}

/** What a KEDA Prometheus trigger scales on. */
export interface PrometheusTrigger {
  serverAddress: string;
  query: string;
}

const behavior = (rules: ScalingRules) => ({
  stabilizationWindowSeconds: rules.stabilizationWindowSeconds,
  selectPolicy: rules.selectPolicy,
  policies: rules.policies.map((p) => ({ ...p })),
});

/**
 * The `spec` of a KEDA ScaledObject that applies `policy` to `target` on `trigger`: min and max,
 * polling interval, cooldown, the HPA behaviour of both directions, and a Prometheus trigger whose
 * threshold is the target backlog per replica (`AverageValue`: desired = ceil(value / threshold))
 * and whose activation threshold is the policy's.
 */
export function scaledObjectSpec(
  policy: ScalingPolicy,
  target: { kind: 'Deployment' | 'StatefulSet'; name: string },
  trigger: PrometheusTrigger,
) {
  return {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: target.kind, name: target.name },
    pollingInterval: policy.pollingSeconds,
    cooldownPeriod: policy.cooldownSeconds,
    minReplicaCount: policy.minReplicas,
    maxReplicaCount: policy.maxReplicas,
    advanced: {
      horizontalPodAutoscalerConfig: {
        behavior: { scaleUp: behavior(policy.scaleUp), scaleDown: behavior(policy.scaleDown) },
      },
    },
    triggers: [
      {
        type: 'prometheus',
        metricType: 'AverageValue',
        metadata: {
          serverAddress: trigger.serverAddress,
          query: trigger.query,
          threshold: String(policy.targetBacklog),
          activationThreshold: String(policy.activationBacklog),
        },
      },
    ],
  };
}
