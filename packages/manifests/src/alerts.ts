import { BACKLOG_METRIC, type FleetConfig, OLDEST_WAITING_METRIC } from '@agent-fleet/core';
import { VLLM_WAITING_METRIC, VLLM_WAITING_PER_SERVER } from './scaling-objects.ts';

/** An alert rule of the fleet. */
export interface Alert {
  alert: string;
  expr: string;
  for: string;
  severity: 'warning' | 'critical';
  summary: string;
}

/** Where a set of alert rules applies: which series it selects, and what the deployment's settings allow. */
export interface AlertScope {
  /** Label matchers every selector carries, e.g. `namespace="agent-fleet"`; '' for every series. */
  selector: string;
  /** The backlog the workers scale on, as KEDA reads it (or the same sum over every queue). */
  backlogQuery: string;
  /** The backlog past which the workers are at AUTOSCALE_MAX_WORKERS; absent when WORKERS fixes the count. */
  maxBacklog?: { backlog: number; maxWorkers: number };
  /** vLLM servers the deployment may run (0 with the simulator or an external service). */
  vllmServers: number;
}

/** How long the job a queue runs next may wait before the backlog alert fires: chat turns start in seconds. */
export const BACKLOG_AGE_SECONDS = 60;
/** Redis runs with noeviction: past maxmemory every write fails, accepting messages first. */
export const REDIS_MEMORY_WARNING = 0.8;
export const REDIS_MEMORY_CRITICAL = 0.95;

/** The AlertScope of a deployment's settings, with `selector` on every series. */
export function alertScope(
  config: FleetConfig,
  selector: string,
  backlogQuery: string,
  vllmServers: number,
): AlertScope {
  return {
    selector,
    backlogQuery,
    vllmServers,
    ...(config.WORKERS === undefined
      ? {
          maxBacklog: {
            backlog: config.AUTOSCALE_TARGET_BACKLOG * config.AUTOSCALE_MAX_WORKERS,
            maxWorkers: config.AUTOSCALE_MAX_WORKERS,
          },
        }
      : {}),
  };
}

/** The backlog summed over every work queue a gateway exports (the highest reading per queue). */
export const ALL_QUEUES_BACKLOG = `sum(max by (queue) (${BACKLOG_METRIC}))`;

/**
 * The fleet's alert rules, one definition for every place they are deployed: the PrometheusRule
 * of each Kubernetes overlay (selecting its namespace) and `infra/observability/alerts.yaml` for any
 * Prometheus. Each names metrics the fleet's processes export, which `npm test` checks.
 */
export function fleetAlerts(scope: AlertScope): Alert[] {
  const sel = (extra = '') => {
    const matchers = [scope.selector, extra].filter(Boolean).join(',');
    return matchers ? `{${matchers}}` : '';
  };
  const backlog = scope.backlogQuery;
  const list: Alert[] = [
    {
      alert: 'FleetBacklogSignalMissing',
      expr: `absent(${BACKLOG_METRIC}${sel()})`,
      for: '5m',
      severity: 'critical',
      summary: 'No gateway exports the backlog: KEDA cannot scale the workers.',
    },
    {
      alert: 'FleetBacklogNotDraining',
      expr: `${backlog} > 0 and sum(increase(fleet_worker_turns_total${sel()}[10m])) == 0`,
      for: '10m',
      severity: 'critical',
      summary: 'Turns are waiting but no worker finished one in 10 minutes.',
    },
    {
      alert: 'FleetBacklogOld',
      expr: `max by (queue) (${OLDEST_WAITING_METRIC}${sel()}) > ${BACKLOG_AGE_SECONDS}`,
      for: '5m',
      severity: 'warning',
      summary: `The next job of queue {{ $labels.queue }} has waited more than ${BACKLOG_AGE_SECONDS} s.`,
    },
    {
      alert: 'FleetTurnsFailing',
      expr: `sum(rate(fleet_worker_turns_total${sel('outcome="failed"')}[10m])) / sum(rate(fleet_worker_turns_total${sel()}[10m])) > 0.05`,
      for: '10m',
      severity: 'warning',
      summary: 'More than 5% of turns fail (fleet_worker_turn_failures_total says why).',
    },
    {
      alert: 'FleetNoHealthyLlmServer',
      expr: `min by (instance) (fleet_llm_circuit_state${sel()}) == 2`,
      for: '2m',
      severity: 'critical',
      summary: 'A fleet process sees every LLM server failing (all circuits open).',
    },
    {
      alert: 'FleetUsersStuck',
      expr: `max(fleet_recovery_stuck_users${sel()}) > 0`,
      for: '15m',
      severity: 'warning',
      summary:
        'Sweep after sweep finds users whose next turn nobody runs: repairs are not getting them going.',
    },
    ...redisMemory(sel),
    {
      alert: 'FleetGatewayErrors',
      expr: `sum(rate(fleet_gateway_http_request_duration_seconds_count${sel('status=~"5.."')}[5m])) / sum(rate(fleet_gateway_http_request_duration_seconds_count${sel()}[5m])) > 0.02`,
      for: '10m',
      severity: 'warning',
      summary: 'More than 2% of gateway requests fail with 5xx.',
    },
  ];
  if (scope.maxBacklog)
    list.push({
      alert: 'FleetWorkersAtMaximum',
      expr: `${backlog} > ${scope.maxBacklog.backlog}`,
      for: '15m',
      severity: 'warning',
      summary: `The backlog needs more than AUTOSCALE_MAX_WORKERS (${scope.maxBacklog.maxWorkers}) workers.`,
    });
  if (scope.vllmServers > 0)
    list.push({
      alert: 'VllmSaturated',
      expr: `sum(${VLLM_WAITING_METRIC}${sel()}) > ${VLLM_WAITING_PER_SERVER * scope.vllmServers}`,
      for: '15m',
      severity: 'warning',
      summary: `Every vLLM server (${scope.vllmServers}, the most LLM_BASE_URLS lists) has requests waiting.`,
    });
  return list;
}

function redisMemory(sel: (extra?: string) => string): Alert[] {
  const ratio = `max(fleet_redis_memory_used_bytes${sel()} / (fleet_redis_memory_max_bytes${sel()} > 0))`;
  return [
    {
      alert: 'FleetRedisMemoryHigh',
      expr: `${ratio} > ${REDIS_MEMORY_WARNING}`,
      for: '10m',
      severity: 'warning',
      summary: `Redis uses more than ${REDIS_MEMORY_WARNING * 100}% of maxmemory (noeviction: writes fail when full).`,
    },
    {
      alert: 'FleetRedisMemoryFull',
      expr: `${ratio} > ${REDIS_MEMORY_CRITICAL}`,
      for: '2m',
      severity: 'critical',
      summary: `Redis uses more than ${REDIS_MEMORY_CRITICAL * 100}% of maxmemory: messages will be refused.`,
    },
  ];
}

/** Alert rules as Prometheus rule groups: a rule file's content and a PrometheusRule's spec alike. */
export function ruleGroups(alerts: Alert[]) {
  return {
    groups: [
      {
        name: 'agent-fleet',
        rules: alerts.map((a) => ({
          alert: a.alert,
          expr: a.expr,
          for: a.for,
          labels: { severity: a.severity },
          annotations: { summary: a.summary },
        })),
      },
    ],
  };
}
