import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type FleetConfig, loadConfig } from '@agent-fleet/core';
import {
  parseTrace,
  type ScalingPolicy,
  type SimulationResult,
  scalingPolicyFromConfig,
  simulate,
  simulateIdeal,
  type Trace,
  type WorkerModel,
} from '@agent-fleet/scaling';
import { htmlReport, svgChart, terminalChart } from './timeline-chart.ts';

/**
 * Turns per second one worker process completed with the simulator answering at once, the worker
 * the bottleneck: `pnpm bench:footprint -- --workers 1` (bench:pipeline, 4,000 turns) measured 486
 * on the 2-core development machine (see the README); rounded down.
 */
export const MEASURED_WORKER_THROUGHPUT = 480;

export interface SimulateOptions {
  trace: string;
  /** An env file (an overlay's fleet.env) whose AUTOSCALE_* settings make the policy; else this environment. */
  env?: string;
  perWorker: number;
  /** Seconds a turn takes when model calls, not the worker's CPU, bound it. */
  turnSeconds?: number;
  startup: number;
  svg?: string;
  html?: string;
  width: number;
}

function settings(file: string | undefined): FleetConfig {
  if (!file) return loadConfig();
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = /^\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!.trim();
  }
  return loadConfig(env);
}

const n0 = (x: number) => Math.round(x).toLocaleString('en');
const secs = (x: number) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(1) : n0(x)} s` : 'never');

function describePolicy(p: ScalingPolicy): string {
  const rate = (r: ScalingPolicy['scaleUp']) =>
    `${r.policies.map((x) => `${x.value}${x.type === 'Percent' ? '%' : ' pods'}`).join(' or ')} per ${r.policies[0]!.periodSeconds} s`;
  return [
    `policy: ${p.minReplicas}..${p.maxReplicas} workers, ${p.targetBacklog} turns per worker, activation over ${p.activationBacklog},`,
    `        polling ${p.pollingSeconds} s, cooldown ${p.cooldownSeconds} s, up ${rate(p.scaleUp)}` +
      ` (window ${p.scaleUp.stabilizationWindowSeconds} s), down ${rate(p.scaleDown)} (window ${p.scaleDown.stabilizationWindowSeconds} s)`,
  ].join('\n');
}

function describeTrace(t: Trace): string {
  let messages = 0;
  for (let i = 1; i < t.points.length; i++) {
    const [a, b] = [t.points[i - 1]!, t.points[i]!];
    messages += ((a.rate + b.rate) / 2) * (b.at - a.at);
  }
  const peak = Math.max(...t.points.map((p) => p.rate));
  return `trace ${t.name}: ${secs(t.duration)} (${(t.duration / 60).toFixed(0)} min), ${n0(messages)} messages, peak ${n0(peak)}/s`;
}

/** The figures of the policy's run next to the ideal autoscaler's. */
export function figures(real: SimulationResult, ideal: SimulationResult): string {
  const rows: [string, (r: SimulationResult) => string][] = [
    ['drain time (longest arrival → done)', (r) => secs(r.timeInSystem.max)],
    ['arrival → done, p95', (r) => secs(r.timeInSystem.p95)],
    ['arrival → done, p50', (r) => secs(r.timeInSystem.p50)],
    ['peak backlog', (r) => `${n0(r.peakBacklog)} at ${secs(r.peakBacklogAt)}`],
    ['peak workers', (r) => n0(r.peakReplicas)],
    ['pod-minutes', (r) => r.podMinutes.toFixed(1)],
    ['empty after the last arrival', (r) => secs(r.drainAfterEnd)],
  ];
  const lines = [`${''.padEnd(38)}${'policy'.padEnd(22)}ideal autoscaler`];
  for (const [label, value] of rows)
    lines.push(`${label.padEnd(38)}${value(real).padEnd(22)}${value(ideal)}`);
  return lines.join('\n');
}

/**
 * `fleet scale simulate`: replays a load trace through the scaling policy (the same Autoscaler as
 * `npm start`'s and the generated ScaledObject's) with a worker's measured throughput, next to an
 * ideal instant autoscaler, and prints the figures and a timeline chart (optionally SVG and HTML).
 */
export function simulateCommand(opts: SimulateOptions): string {
  const config = settings(opts.env);
  const policy = scalingPolicyFromConfig(config);
  const trace = parseTrace(readFileSync(opts.trace, 'utf8'), basename(opts.trace));
  const slots = config.PARTITIONS * config.WORKER_CONCURRENCY;
  const throughput = opts.turnSeconds ? Math.min(opts.perWorker, slots / opts.turnSeconds) : opts.perWorker;
  const worker: WorkerModel = { throughput, slots, startupSeconds: opts.startup };
  const real = simulate(trace, policy, worker);
  const ideal = simulateIdeal(trace, policy, worker);
  const text = [
    describeTrace(trace),
    describePolicy(policy),
    `worker: ${n0(throughput)} turns/s, ${slots} turns at once (PARTITIONS × WORKER_CONCURRENCY), takes jobs ${opts.startup} s after it is asked for`,
    '',
    figures(real, ideal),
  ].join('\n');
  if (opts.svg || opts.html) {
    const svg = svgChart(
      real,
      ideal,
      `fleet scale simulate: ${trace.name}, the policy against an ideal autoscaler`,
    );
    if (opts.svg) writeFileSync(opts.svg, `${svg}\n`);
    if (opts.html) writeFileSync(opts.html, htmlReport(`fleet scale simulate: ${trace.name}`, text, svg));
  }
  return `${text}\n\n${terminalChart(real, ideal, opts.width)}\n`;
}
