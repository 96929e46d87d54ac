import { BACKLOG_METRIC } from '@agent-fleet/core';
import type { K8sObject } from './objects.ts';
import type { Overlay } from './overlay.ts';
import {
  VLLM_WAITING_METRIC,
  VLLM_WAITING_PER_SERVER,
  vllmServerCount,
  workerBacklogQuery,
} from './scaling-objects.ts';

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

interface Alert {
  alert: string;
  expr: string;
  for: string;
  severity: 'warning' | 'critical';
  summary: string;
}

function alerts(o: Overlay): Alert[] {
  const ns = `namespace="${o.namespace}"`;
  const backlog = workerBacklogQuery(o);
  const c = o.config;
  const list: Alert[] = [
    {
      alert: 'FleetBacklogSignalMissing',
      expr: `absent(${BACKLOG_METRIC}{${ns}})`,
      for: '5m',
      severity: 'critical',
      summary: 'No gateway exports the backlog: KEDA cannot scale the workers.',
    },
    {
      alert: 'FleetBacklogNotDraining',
      expr: `${backlog} > 0 and sum(increase(fleet_worker_turns_total{${ns}}[10m])) == 0`,
      for: '10m',
      severity: 'critical',
      summary: 'Turns are waiting but no worker finished one in 10 minutes.',
    },
    {
      alert: 'FleetTurnsFailing',
      expr: `sum(rate(fleet_worker_turns_total{${ns},outcome="failed"}[10m])) / sum(rate(fleet_worker_turns_total{${ns}}[10m])) > 0.05`,
      for: '10m',
      severity: 'warning',
      summary: 'More than 5% of turns fail.',
    },
    {
      alert: 'FleetNoHealthyLlmServer',
      expr: `min by (pod) (fleet_llm_circuit_state{${ns}}) == 2`,
      for: '2m',
      severity: 'critical',
      summary: 'A fleet process sees every LLM server failing (all circuits open).',
    },
    {
      alert: 'FleetGatewayErrors',
      expr: `sum(rate(fleet_gateway_http_request_duration_seconds_count{${ns},status=~"5.."}[5m])) / sum(rate(fleet_gateway_http_request_duration_seconds_count{${ns}}[5m])) > 0.02`,
      for: '10m',
      severity: 'warning',
      summary: 'More than 2% of gateway requests fail with 5xx.',
    },
  ];
  if (c.WORKERS === undefined)
    list.push({
      alert: 'FleetWorkersAtMaximum',
      expr: `${backlog} > ${c.AUTOSCALE_TARGET_BACKLOG * c.AUTOSCALE_MAX_WORKERS}`,
      for: '15m',
      severity: 'warning',
      summary: `The backlog needs more than AUTOSCALE_MAX_WORKERS (${c.AUTOSCALE_MAX_WORKERS}) workers.`,
    });
  const servers = vllmServerCount(o);
  if (servers > 0)
    list.push({
      alert: 'VllmSaturated',
      expr: `sum(${VLLM_WAITING_METRIC}{${ns}}) > ${VLLM_WAITING_PER_SERVER * servers}`,
      for: '15m',
      severity: 'warning',
      summary: `Every vLLM server (${servers}, the most LLM_BASE_URLS lists) has requests waiting.`,
    });
  return list;
}

/** Alert rules of the fleet, for the Prometheus Operator. */
export function prometheusRule(o: Overlay): K8sObject {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'agent-fleet', labels: PART_OF },
    spec: {
      groups: [
        {
          name: 'agent-fleet',
          rules: alerts(o).map((a) => ({
            alert: a.alert,
            expr: a.expr,
            for: a.for,
            labels: { severity: a.severity },
            annotations: { summary: a.summary },
          })),
        },
      ],
    },
  };
}
