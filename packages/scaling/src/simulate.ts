import { Autoscaler, type ScaleDecision } from './autoscaler.ts';
import type { ScalingPolicy } from './policy.ts';
import { rateAt, type Trace } from './trace.ts';

/** What a worker can do, measured (see the README's figures) or assumed. */
export interface WorkerModel {
  /** Turns per second one worker completes with every slot busy. */
  throughput: number;
  /** Turns one worker runs at once: PARTITIONS × WORKER_CONCURRENCY. */
  slots: number;
  /** Seconds from the decision to add a replica until it takes jobs (scheduling, image, start-up). */
  startupSeconds: number;
}

/** One second of a simulated run. */
export interface TimelinePoint {
  at: number;
  /** Arrivals per second at this time. */
  rate: number;
  /** Waiting + running turns: the signal the policy scales on. */
  backlog: number;
  /** Replicas asked for (billed), and those taking jobs. */
  replicas: number;
  ready: number;
}

export interface SimulationResult {
  label: string;
  timeline: TimelinePoint[];
  /** Changes of the replica count the policy decided. */
  decisions: ScaleDecision[];
  peakBacklog: number;
  peakBacklogAt: number;
  peakReplicas: number;
  /** Replicas × minutes, starting ones included: what the fleet costs. */
  podMinutes: number;
  /** Arrival to done of a message (FIFO over the whole fleet), in seconds. */
  timeInSystem: { p50: number; p95: number; max: number };
  /** Seconds from the trace's last arrival until the backlog was empty; Infinity if it never was. */
  drainAfterEnd: number;
}

/** Who decides the replica count at each step of a run. */
interface Scaler {
  /** Called every `pollingSeconds`; returns the decision when the count changed. */
  decide(at: number, backlog: number, rate: number): { replicas: number; decision?: ScaleDecision };
  pollingSeconds: number;
  readyAfter: number;
  initial: number;
}

/** The longest step of the run; shorter when turns are short, so a turn spans ten steps or more. */
const MAX_STEP = 0.1;
/** How long past the trace's end the run goes on while a backlog is left. */
const MAX_DRAIN_SECONDS = 6 * 3600;

/** Replays `trace` through the scaling policy: KEDA's decisions, pods ready after the start-up time. */
export function simulate(trace: Trace, policy: ScalingPolicy, worker: WorkerModel): SimulationResult {
  const scaler = new Autoscaler(policy, { now: 0 });
  return run(trace, worker, 'policy', {
    pollingSeconds: policy.pollingSeconds,
    readyAfter: worker.startupSeconds,
    initial: scaler.replicas,
    decide(at, backlog) {
      const d = scaler.observe(Math.round(backlog), at);
      return d.to === d.from ? { replicas: d.to } : { replicas: d.to, decision: d };
    },
  });
}

/**
 * The same trace with an ideal, instant autoscaler: every step exactly the replicas the work needs,
 * enough throughput for the arrivals and enough slots for the backlog, within min and max, ready at
 * once. The yardstick for the policy's figures.
 */
export function simulateIdeal(trace: Trace, policy: ScalingPolicy, worker: WorkerModel): SimulationResult {
  const needed = (rate: number, backlog: number) =>
    Math.min(
      policy.maxReplicas,
      Math.max(policy.minReplicas, Math.ceil(rate / worker.throughput), Math.ceil(backlog / worker.slots)),
    );
  return run(trace, worker, 'ideal', {
    pollingSeconds: MAX_STEP,
    readyAfter: 0,
    initial: needed(rateAt(trace, 0), 0),
    decide: (_at, backlog, rate) => ({ replicas: needed(rate, backlog) }),
  });
}

/**
 * The fluid model of a run: messages arrive at the trace's rate; each ready worker holds up to
 * `slots` turns, each of which finishes at the rate 1 / turn time (turn time = slots / throughput,
 * so a full worker completes `throughput` turns per second). The backlog the scaler reads is every
 * turn arrived and not finished: waiting and running, as the fleet's signal counts them.
 */
function run(trace: Trace, worker: WorkerModel, label: string, scaler: Scaler): SimulationResult {
  const turnSeconds = worker.slots / worker.throughput;
  const step = Math.min(MAX_STEP, turnSeconds / 10);
  const finishing = 1 - Math.exp(-step / turnSeconds);
  const fleet = new Replicas(scaler.initial);
  const timeline: TimelinePoint[] = [];
  const decisions: ScaleDecision[] = [];
  const cumulative: { at: number; arrived: number; done: number }[] = [];
  let backlog = 0;
  let arrived = 0;
  let done = 0;
  let podSeconds = 0;
  let nextPoll = 0;
  let nextRecord = 0;
  const steps = Math.ceil((trace.duration + MAX_DRAIN_SECONDS) / step);
  for (let i = 0; i <= steps; i++) {
    const at = i * step;
    if (at > trace.duration && backlog < 0.5) {
      timeline.push({ at, rate: 0, backlog, replicas: fleet.count, ready: fleet.readyAt(at) });
      break;
    }
    const rate = rateAt(trace, at);
    if (at >= nextPoll - 1e-9) {
      nextPoll += scaler.pollingSeconds;
      const { replicas, decision } = scaler.decide(at, backlog, rate);
      fleet.scaleTo(replicas, at + scaler.readyAfter);
      if (decision) decisions.push(decision);
    }
    const ready = fleet.readyAt(at);
    if (at >= nextRecord - 1e-9) {
      nextRecord += 1;
      timeline.push({ at, rate, backlog, replicas: fleet.count, ready });
    }
    const finished = Math.min(backlog + rate * step, ready * worker.slots) * finishing;
    backlog += rate * step - finished;
    arrived += rate * step;
    done += finished;
    podSeconds += fleet.count * step;
    if (i % 10 === 0) cumulative.push({ at, arrived, done });
  }
  return summarize(label, trace, timeline, decisions, cumulative, podSeconds, backlog);
}

function summarize(
  label: string,
  trace: Trace,
  timeline: TimelinePoint[],
  decisions: ScaleDecision[],
  cumulative: { at: number; arrived: number; done: number }[],
  podSeconds: number,
  left: number,
): SimulationResult {
  const peak = timeline.reduce((a, b) => (b.backlog > a.backlog ? b : a), timeline[0]!);
  const emptied = timeline.find((p) => p.at >= trace.duration && p.backlog < 0.5);
  return {
    label,
    timeline,
    decisions,
    peakBacklog: peak.backlog,
    peakBacklogAt: peak.at,
    peakReplicas: Math.max(...timeline.map((p) => p.replicas)),
    podMinutes: podSeconds / 60,
    timeInSystem: timesInSystem(cumulative),
    drainAfterEnd: left >= 0.5 ? Number.POSITIVE_INFINITY : (emptied?.at ?? trace.duration) - trace.duration,
  };
}

/**
 * Quantiles of arrival-to-done times, first in first out over the fleet: the message that was the
 * n-th to arrive is done when n messages are done (within half a message, the fluid model's grain).
 */
function timesInSystem(cumulative: { at: number; arrived: number; done: number }[]) {
  const waits: { wait: number; weight: number }[] = [];
  let j = 0;
  let before = 0;
  for (const step of cumulative) {
    const weight = step.arrived - before;
    before = step.arrived;
    if (weight <= 0) continue;
    while (j < cumulative.length - 1 && cumulative[j]!.done < step.arrived - 0.5) j++;
    waits.push({ wait: Math.max(0, cumulative[j]!.at - step.at), weight });
  }
  waits.sort((a, b) => a.wait - b.wait);
  const total = waits.reduce((n, w) => n + w.weight, 0);
  const quantile = (q: number) => {
    let seen = 0;
    for (const w of waits) {
      seen += w.weight;
      if (seen >= q * total) return w.wait;
    }
    return waits.at(-1)?.wait ?? 0;
  };
  return { p50: quantile(0.5), p95: quantile(0.95), max: waits.at(-1)?.wait ?? 0 };
}

/** Replicas asked for, each with the time it takes jobs from; removing takes the newest first. */
class Replicas {
  #readyAt: number[];

  constructor(initial: number) {
    this.#readyAt = Array.from({ length: initial }, () => 0);
  }

  get count(): number {
    return this.#readyAt.length;
  }

  scaleTo(n: number, readyAt: number): void {
    while (this.#readyAt.length < n) this.#readyAt.push(readyAt);
    this.#readyAt.sort((a, b) => a - b);
    this.#readyAt.length = Math.min(this.#readyAt.length, n);
  }

  readyAt(at: number): number {
    return this.#readyAt.filter((t) => t <= at).length;
  }
}
