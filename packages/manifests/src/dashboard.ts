import { BACKLOG_METRIC, OLDEST_WAITING_METRIC } from '@agent-fleet/core';

/** One query of a panel and how its series are named (Grafana's legend format). */
export interface PanelQuery {
  expr: string;
  legend: string;
}

/** A chart of the fleet dashboard. */
export interface PanelSpec {
  title: string;
  description: string;
  /** Grafana's unit id: `s`, `reqps`, `ops`, `percentunit`, `bytes`, `short`. */
  unit: string;
  queries: PanelQuery[];
  /** A metric the panel reads that no process exports yet, and what will export it. */
  awaits?: { metric: string; by: string };
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

/**
 * Every selector of the dashboard carries the namespace variable (`All` matches series without one).
 * Rates span a minute: four scrapes at the PodMonitor's 15 s, and short enough that a burst or an
 * outage shows as one.
 */
const NS = 'namespace=~"$namespace"';
const rate = (metric: string, matchers = '', window = '1m') =>
  `rate(${metric}{${[NS, matchers].filter(Boolean).join(',')}}[${window}])`;
const stageQuantile = (q: number, by: string, matchers = '') =>
  `histogram_quantile(${q}, sum by (${by}, le) (${rate('fleet_worker_turn_stage_seconds_bucket', matchers)}))`;

/** The per-tenant token counter of token accounting; the tenant panel reads it once it exists. */
export const TENANT_TOKENS_METRIC = 'fleet_tokens_total';

/**
 * The fleet overview, row by row: what the operator of a fleet opens first in an incident. The
 * backlog panel reads the gauge KEDA scales on, summed as its query sums it.
 */
export const DASHBOARD_ROWS: RowSpec[] = [
  {
    title: 'Intake and backlog',
    panels: [
      {
        title: 'Accepted turns/s',
        description: 'User messages the gateways accepted as turns (Idempotency-Key replays excluded).',
        unit: 'reqps',
        queries: [{ expr: `sum(${rate('fleet_gateway_turns_accepted_total')})`, legend: 'accepted' }],
      },
      {
        title: 'Backlog per queue (what KEDA scales on)',
        description: `${BACKLOG_METRIC}: waiting + prioritized + due delayed + active jobs; the highest reading per queue over the gateways, and their sum as KEDA's query takes it.`,
        unit: 'short',
        queries: [
          { expr: `max by (queue) (${BACKLOG_METRIC}{${NS}})`, legend: '{{queue}}' },
          { expr: `sum(max by (queue) (${BACKLOG_METRIC}{${NS}}))`, legend: 'total (KEDA)' },
        ],
      },
      {
        title: 'Oldest waiting job per queue',
        description: 'How long the job each work queue runs next has waited since it was added.',
        unit: 's',
        queries: [{ expr: `max by (queue) (${OLDEST_WAITING_METRIC}{${NS}})`, legend: '{{queue}}' }],
      },
      {
        title: 'Workers and turns running',
        description: 'Worker processes exporting metrics, and the turns they run now.',
        unit: 'short',
        queries: [
          { expr: `count(fleet_worker_turns_running{${NS}})`, legend: 'workers' },
          { expr: `sum(fleet_worker_turns_running{${NS}})`, legend: 'turns running' },
        ],
      },
    ],
  },
  {
    title: 'Turns',
    panels: [
      {
        title: 'Turn latency by stage (p95)',
        description:
          'Per stage: queue, gate, load, retrieval, model and tool (per call), checkpoint (per step), record, commit.',
        unit: 's',
        queries: [{ expr: stageQuantile(0.95, 'stage'), legend: '{{stage}}' }],
      },
      {
        title: 'Model calls of turns: first token and generation',
        description:
          "Each model call of a turn, as the worker saw it: first_token (the pool's admission included) and generation, p50 and p95.",
        unit: 's',
        queries: [0.5, 0.95].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (part, le) (${rate('fleet_worker_model_call_seconds_bucket')}))`,
          legend: `{{part}} p${q * 100}`,
        })),
      },
      {
        title: 'Turns finished by outcome',
        description: 'completed, failed, cancelled, interrupted per second.',
        unit: 'ops',
        queries: [{ expr: `sum by (outcome) (${rate('fleet_worker_turns_total')})`, legend: '{{outcome}}' }],
      },
      {
        title: 'Failures by reason',
        description:
          'outage (a dependency away past the window), attempts, refused, stalled, recovery, quota (a token budget used up).',
        unit: 'ops',
        queries: [
          { expr: `sum by (reason) (${rate('fleet_worker_turn_failures_total')})`, legend: '{{reason}}' },
        ],
      },
      {
        title: 'Gate: parks and busy users',
        description: 'Deliveries the per-user gate parked (an earlier turn of the user runs) or found busy.',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (decision) (${rate('fleet_worker_gate_total', 'decision=~"park|busy"')})`,
            legend: '{{decision}}',
          },
        ],
      },
      {
        title: 'Checkpoint replays, repairs, stuck users',
        description:
          'Deliveries resumed from a checkpoint, turns recovery got going, users the last sweep found stuck.',
        unit: 'short',
        queries: [
          { expr: `sum(${rate('fleet_worker_checkpoint_replays_total')})`, legend: 'replays/s' },
          {
            expr: `sum by (action) (${rate('fleet_worker_gap_repairs_total')})`,
            legend: 'repairs/s {{action}}',
          },
          { expr: `max(fleet_recovery_stuck_users{${NS}})`, legend: 'stuck users' },
        ],
      },
      {
        title: 'Retrieval latency',
        description: 'Retrieving the passages of a turn (the retrieval stage), p50 and p95.',
        unit: 's',
        queries: [
          { expr: stageQuantile(0.5, 'stage', 'stage="retrieval"'), legend: 'p50' },
          { expr: stageQuantile(0.95, 'stage', 'stage="retrieval"'), legend: 'p95' },
        ],
      },
    ],
  },
  {
    title: 'LLM servers',
    panels: [
      {
        title: 'Time to first token per server (p95)',
        description: 'As the workers’ pools measure it, per server.',
        unit: 's',
        queries: [
          {
            expr: `histogram_quantile(0.95, sum by (server, le) (${rate('fleet_llm_time_to_first_token_seconds_bucket')}))`,
            legend: '{{server}}',
          },
        ],
      },
      {
        title: 'Tokens/s per server',
        description: 'Prompt and completion tokens as the servers reported them.',
        unit: 'short',
        queries: [
          {
            expr: `sum by (server, kind) (${rate('fleet_llm_tokens_total', 'kind=~"prompt|completion"')})`,
            legend: '{{server}} {{kind}}',
          },
        ],
      },
      {
        title: 'Prefix-cache hit rate per server',
        description: 'Cached prompt tokens over prompt tokens: session routing keeps it high.',
        unit: 'percentunit',
        queries: [
          {
            expr: `sum by (server) (${rate('fleet_llm_tokens_total', 'kind="cached"')}) / sum by (server) (${rate('fleet_llm_tokens_total', 'kind="prompt"')})`,
            legend: '{{server}}',
          },
        ],
      },
      {
        title: 'LLM errors per server',
        description: 'Failed attempts: tried again on another server (retry), or given up (error).',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (server, outcome) (${rate('fleet_llm_requests_total', 'outcome=~"retry|error"')})`,
            legend: '{{server}} {{outcome}}',
          },
        ],
      },
      {
        title: 'In flight and circuits per server',
        description:
          'Requests in flight over every pool; circuit 0 closed, 1 half-open, 2 open (worst over the pools).',
        unit: 'short',
        queries: [
          { expr: `sum by (server) (fleet_llm_in_flight{${NS}})`, legend: 'in flight {{server}}' },
          { expr: `max by (server) (fleet_llm_circuit_state{${NS}})`, legend: 'circuit {{server}}' },
        ],
      },
    ],
  },
  {
    title: 'Tenants and Redis',
    panels: [
      {
        title: 'Tokens/s per tenant',
        description: `${TENANT_TOKENS_METRIC}{tenant,model,kind,type} from token accounting: prompt and completion tokens of every kind of call (cached tokens are part of the prompt's).`,
        unit: 'short',
        queries: [
          {
            expr: `sum by (tenant) (${rate(TENANT_TOKENS_METRIC, 'type=~"prompt|completion"')})`,
            legend: '{{tenant}}',
          },
        ],
      },
      {
        title: 'Redis memory',
        description:
          'used_memory against maxmemory: Redis runs with noeviction, so writes fail when it is full.',
        unit: 'bytes',
        queries: [
          { expr: `max(fleet_redis_memory_used_bytes{${NS}})`, legend: 'used' },
          { expr: `max(fleet_redis_memory_max_bytes{${NS}})`, legend: 'maxmemory' },
        ],
      },
    ],
  },
];

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's datasource variable, not a template literal
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const PANEL_W = 8;
const PANEL_H = 8;

/** The Grafana dashboard (JSON model, schema 39) of `rows`: a row panel, then its charts three abreast. */
export function grafanaDashboard(rows: RowSpec[] = DASHBOARD_ROWS) {
  let id = 0;
  let y = 0;
  const panels: unknown[] = [];
  for (const row of rows) {
    panels.push({
      type: 'row',
      id: ++id,
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    row.panels.forEach((p, i) => {
      panels.push(
        chart(p, ++id, { h: PANEL_H, w: PANEL_W, x: (i % 3) * PANEL_W, y: y + Math.floor(i / 3) * PANEL_H }),
      );
    });
    y += Math.ceil(row.panels.length / 3) * PANEL_H;
  }
  return {
    uid: 'agent-fleet-overview',
    title: 'agent-fleet overview',
    description: 'Generated by `pnpm manifests` from packages/manifests/src/dashboard.ts: do not edit.',
    tags: ['agent-fleet'],
    schemaVersion: 39,
    version: 1,
    editable: false,
    graphTooltip: 1,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
        },
        {
          name: 'namespace',
          label: 'namespace',
          type: 'query',
          datasource: DATASOURCE,
          query: { query: `label_values(${BACKLOG_METRIC}, namespace)`, refId: 'namespace' },
          definition: `label_values(${BACKLOG_METRIC}, namespace)`,
          includeAll: true,
          allValue: '.*',
          multi: false,
          refresh: 2,
          current: {},
          hide: 0,
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

function chart(p: PanelSpec, id: number, gridPos: { h: number; w: number; x: number; y: number }) {
  return {
    type: 'timeseries',
    id,
    title: p.title,
    description: p.awaits ? `${p.description} Empty until ${p.awaits.by} exports it.` : p.description,
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: {
      defaults: { unit: p.unit, min: 0, custom: { lineWidth: 1, fillOpacity: 10, showPoints: 'never' } },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi' },
    },
    targets: p.queries.map((q, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DATASOURCE,
      expr: q.expr,
      legendFormat: q.legend,
    })),
  };
}
