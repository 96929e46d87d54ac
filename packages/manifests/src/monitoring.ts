import { alertScope, fleetAlerts, ruleGroups } from './alerts.ts';
import type { K8sObject } from './objects.ts';
import type { Overlay } from './overlay.ts';
import { vllmServerCount, workerBacklogQuery } from './scaling-objects.ts';

const PART_OF = { 'app.kubernetes.io/part-of': 'agent-fleet' };

/**
 * Prometheus Operator scrape configuration: every pod of the fleet on its `http` port (gateway,
 * vLLM, Qdrant) and `metrics` port (workers) at /metrics, every 15 s. The operator adds the
 * `namespace` and `pod` labels the queries use.
 */
export function podMonitor(): K8sObject {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: { name: 'agent-fleet', labels: PART_OF },
    spec: {
      selector: { matchLabels: PART_OF },
      podMetricsEndpoints: [
        { port: 'http', path: '/metrics', interval: '15s' },
        { port: 'metrics', path: '/metrics', interval: '15s' },
      ],
    },
  };
}

/** Alert rules of the fleet, for the Prometheus Operator. */
export function prometheusRule(o: Overlay): K8sObject {
  const scope = alertScope(o.config, `namespace="${o.namespace}"`, workerBacklogQuery(o), vllmServerCount(o));
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'agent-fleet', labels: PART_OF },
    spec: ruleGroups(fleetAlerts(scope)),
  };
}
