import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPoolMetrics } from '@agent-fleet/llm';
import {
  ALERTS_FILE,
  committedQueries,
  DASHBOARD_FILE,
  DASHBOARD_ROWS,
  dashboardQueries,
  GENERATED_FILE,
  type K8sObject,
  metricsOf,
  OBSERVABILITY_DIR,
  overlayDirs,
  parseObjects,
  queryProblems,
  ruleQueries,
} from '@agent-fleet/manifests';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createGatewayMetrics } from '../packages/gateway/src/metrics.ts';
import { SimMetrics } from '../packages/llm-sim/src/metrics.ts';
import { createWorkerMetrics } from '../packages/worker/src/metrics.ts';
import { promtoolCheck, promtoolInstalled } from './support/promtool.ts';

type Registry = ReturnType<typeof createWorkerMetrics>['registry'];

/** The series names a registry exports: a histogram's `_bucket`, `_sum` and `_count`, the rest as named. */
function seriesOf(registry: Registry): string[] {
  return registry.getMetricsAsArray().flatMap((m) => {
    const { name, type } = m as unknown as { name: string; type: string };
    if (type === 'histogram') return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
    if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
    return [name];
  });
}

/**
 * Every series a fleet process exports, from the factories the processes build their /metrics with:
 * the gateway's, the worker's with its LLM pool's (the pool registers on the worker's registry), and
 * the vLLM metrics (the simulator exports vLLM's names, as real vLLM does).
 */
function exportedSeries(): Set<string> {
  const never = () => Promise.reject(new Error('not collected'));
  const gateway = createGatewayMetrics(
    { measure: never, oldestWaiting: never } as never,
    { open: () => 0, followed: () => 0 },
    { redisMemory: never, recovery: never },
  );
  const worker = createWorkerMetrics();
  createPoolMetrics(worker.registry);
  const sim = new SimMetrics('model', 4096, () => {
    throw new Error('not collected');
  });
  return new Set([gateway.registry, worker.registry, sim.registry].flatMap(seriesOf));
}

const exported = exportedSeries();
const awaited = new Set(
  DASHBOARD_ROWS.flatMap((r) => r.panels.flatMap((p) => (p.awaits ? [p.awaits.metric] : []))),
);
const dashboard = JSON.parse(readFileSync(join(OBSERVABILITY_DIR, DASHBOARD_FILE), 'utf8'));

/** What the generated Kubernetes monitoring holds: each overlay's PrometheusRule and ScaledObjects. */
function overlayObjects(): K8sObject[] {
  return overlayDirs().flatMap((dir) => {
    const file = join(dir, GENERATED_FILE);
    // An overlay with a fixed worker count and no vLLM generates nothing.
    return existsSync(file) ? parseObjects(readFileSync(file, 'utf8'), file) : [];
  });
}

/** The parts of Grafana's dashboard model that an import needs, with unique ids and panels inside the grid. */
const grafanaDashboardSchema = z.object({
  uid: z.string().min(1).max(40),
  title: z.string().min(1),
  schemaVersion: z.number().int().min(36),
  templating: z.object({ list: z.array(z.object({ name: z.string(), type: z.string() })) }),
  panels: z.array(
    z.object({
      id: z.number().int(),
      type: z.enum(['row', 'timeseries']),
      title: z.string().min(1),
      gridPos: z.object({
        h: z.number().int().positive(),
        w: z.number().int().positive().max(24),
        x: z.number().int().min(0),
        y: z.number().int().min(0),
      }),
      targets: z
        .array(z.object({ refId: z.string(), expr: z.string().min(1), legendFormat: z.string() }))
        .optional(),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's datasource variable
      datasource: z.object({ type: z.literal('prometheus'), uid: z.literal('${datasource}') }).optional(),
    }),
  ),
});

describe('dashboards and alerts name only what the fleet exports', () => {
  it('every query of infra/observability parses and names an exported metric', () => {
    const queries = committedQueries();
    expect(queries.length).toBeGreaterThan(25);
    expect(queryProblems(queries, exported, awaited)).toEqual([]);
  });

  it('every query of the overlays’ PrometheusRule and ScaledObjects does too', () => {
    const objects = overlayObjects();
    const rules = objects.filter((o) => o.kind === 'PrometheusRule').flatMap((o) => ruleQueries(o.spec));
    const scalers = objects
      .filter((o) => o.kind === 'ScaledObject')
      .map((o) => ({
        where: `ScaledObject ${o.metadata.name}`,
        expr: (o.spec as { triggers: { metadata: { query: string } }[] }).triggers[0]!.metadata.query,
      }));
    expect(rules.length).toBeGreaterThan(5);
    expect(queryProblems([...rules, ...scalers], exported)).toEqual([]);
  });

  it('fails a query that names a metric nobody exports, a bare histogram name, or broken PromQL', () => {
    // The committed dashboard with one query changed as a careless edit would change it.
    const broken = structuredClone(dashboard);
    const panel = broken.panels.find((p: { title: string }) => p.title === 'Oldest waiting job per queue');
    panel.targets[0].expr = 'max by (queue) (fleet_queue_oldest_wait_seconds{namespace=~"$namespace"})';
    broken.panels.push({
      title: 'stages',
      targets: [
        { expr: 'sum(rate(fleet_worker_turn_stage_seconds[5m]))' },
        { expr: 'sum(rate(fleet_worker_turns_total[5m]' },
      ],
    });
    const problems = queryProblems(dashboardQueries(broken), exported, awaited);
    expect(problems).toEqual([
      'panel "Oldest waiting job per queue": no fleet process exports fleet_queue_oldest_wait_seconds',
      'panel "stages": no fleet process exports fleet_worker_turn_stage_seconds',
      expect.stringMatching(/^panel "stages": PromQL syntax error/),
    ]);
    // An alert rule likewise.
    expect(
      queryProblems(
        ruleQueries({ groups: [{ rules: [{ alert: 'X', expr: 'fleet_nobody > 0' }] }] }),
        exported,
      ),
    ).toEqual(['rule X: no fleet process exports fleet_nobody']);
  });

  it('the backlog KEDA scales on is on the dashboard, summed as KEDA sums it', () => {
    const scaler = overlayObjects().find(
      (o) => o.kind === 'ScaledObject' && o.metadata.name === 'fleet-worker',
    );
    const kedaQuery = (scaler!.spec as { triggers: { metadata: { query: string } }[] }).triggers[0]!.metadata
      .query;
    const onDashboard = dashboardQueries(dashboard).map((q) => q.expr);
    const [kedaMetric] = metricsOf(kedaQuery);
    expect(onDashboard.some((q) => metricsOf(q).includes(kedaMetric!))).toBe(true);
    const shape = (q: string) => q.replace(/\{[^}]*\}/g, '');
    expect(onDashboard.map(shape)).toContain(shape(kedaQuery));
  });

  it('the dashboard is a Grafana dashboard: unique ids, the datasource variable, panels inside the grid', () => {
    const d = grafanaDashboardSchema.parse(dashboard);
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    expect(d.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace']);
    for (const p of d.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    const titles = d.panels.map((p) => p.title);
    for (const wanted of [
      'Accepted turns/s',
      'Backlog per queue (what KEDA scales on)',
      'Oldest waiting job per queue',
      'Turn latency by stage (p95)',
      'Failures by reason',
      'Time to first token per server (p95)',
      'Prefix-cache hit rate per server',
      'LLM errors per server',
      'Gate: parks and busy users',
      'Checkpoint replays, repairs, stuck users',
      'Retrieval latency',
      'Tokens/s per tenant',
    ])
      expect(titles).toContain(wanted);
  });

  it('the alert rules cover backlog age, failures, LLM servers, stuck users and Redis memory', () => {
    const alerts = committedQueries()
      .filter((q) => q.where.startsWith('rule '))
      .map((q) => q.where.slice('rule '.length));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'FleetBacklogOld',
        'FleetTurnsFailing',
        'FleetNoHealthyLlmServer',
        'FleetUsersStuck',
        'FleetRedisMemoryHigh',
      ]),
    );
  });

  it.skipIf(!promtoolInstalled)('promtool accepts the rule file and every overlay’s PrometheusRule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-rules-'));
    const files = [join(OBSERVABILITY_DIR, ALERTS_FILE)];
    for (const [i, rule] of overlayObjects()
      .filter((o) => o.kind === 'PrometheusRule')
      .entries()) {
      const file = join(dir, `overlay-${i}.yaml`);
      writeFileSync(file, JSON.stringify(rule.spec));
      files.push(file);
    }
    const out = promtoolCheck('rules', files);
    expect(out.match(/SUCCESS/g)?.length).toBe(files.length);
  });
});
