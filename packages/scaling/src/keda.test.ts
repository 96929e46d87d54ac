import { describe, expect, it } from 'vitest';
import { backlogQuery, scaledObjectSpec } from './keda.ts';
import { scalingPolicyFromConfig } from './policy.ts';

describe('the KEDA objects of a policy', () => {
  it('sums the highest value per queue of exactly the catalogue queues, dots escaped', () => {
    expect(backlogQuery(['agent.p0', 'agent.p1', 'agent.intake'], 'fleet-prod')).toBe(
      'sum(max by (queue) (fleet_queue_backlog{namespace="fleet-prod",queue=~"agent\\\\.p0|agent\\\\.p1|agent\\\\.intake"}))',
    );
  });

  it('says the policy in KEDA and HPA fields', () => {
    const policy = scalingPolicyFromConfig({
      AUTOSCALE_MIN_WORKERS: 2,
      AUTOSCALE_MAX_WORKERS: 40,
      AUTOSCALE_TARGET_BACKLOG: 64,
      AUTOSCALE_ACTIVATION_BACKLOG: 1,
      AUTOSCALE_POLLING_SECONDS: 10,
      AUTOSCALE_COOLDOWN_SECONDS: 300,
      AUTOSCALE_UP_STABILIZATION_SECONDS: 0,
      AUTOSCALE_DOWN_STABILIZATION_SECONDS: 180,
      AUTOSCALE_UP_PODS: 8,
      AUTOSCALE_UP_PERCENT: 100,
      AUTOSCALE_DOWN_PERCENT: 25,
      AUTOSCALE_RATE_PERIOD_SECONDS: 30,
    });
    const spec = scaledObjectSpec(
      policy,
      { kind: 'Deployment', name: 'fleet-worker' },
      { serverAddress: 'http://prom:9090', query: 'q' },
    );
    expect(spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: 'fleet-worker' },
      minReplicaCount: 2,
      maxReplicaCount: 40,
      pollingInterval: 10,
      cooldownPeriod: 300,
      triggers: [
        {
          type: 'prometheus',
          metricType: 'AverageValue',
          metadata: { query: 'q', threshold: '64', activationThreshold: '1' },
        },
      ],
    });
    expect(spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown).toEqual({
      stabilizationWindowSeconds: 180,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 25, periodSeconds: 30 }],
    });
  });
});
