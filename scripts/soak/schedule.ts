import { createPrng, type Prng } from '@agent-fleet/llm-sim';

/**
 * What the soak does to the fleet. The first five SIGKILL a process the devstack Supervisor brings
 * back (a worker, the gateway, one of the two simulators, redis-server, PostgreSQL); the last two
 * turn the simulators' fault knobs for a while (a share of LLM calls fail with 500, or take seconds).
 */
export const FAULT_KINDS = [
  'worker',
  'gateway',
  'llm-sim',
  'redis-server',
  'postgres',
  'llm-errors',
  'llm-latency',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults that SIGKILL a supervised process, as opposed to the simulators' knobs. */
export function isKill(kind: FaultKind): boolean {
  return kind !== 'llm-errors' && kind !== 'llm-latency';
}

/** One fault of the schedule. */
export interface PlannedFault {
  /** 1-based, in time order. */
  index: number;
  kind: FaultKind;
  /** When it starts, from the start of the load. */
  atMs: number;
  /** The supervised service killed (kills only). */
  target?: string;
  /** How long the knobs stay turned (knob faults only). */
  windowMs?: number;
}

export interface ScheduleInput {
  seed: number;
  /** How long the load runs. */
  durationMs: number;
  /** Time between two faults. */
  everyMs: number;
  kinds: readonly FaultKind[];
  /** Supervised service names the kills pick from. */
  workers: readonly string[];
  sims: readonly string[];
}

/** The load runs this long before the first fault and after the last one starts, at most. */
export const QUIET_MS = 10_000;

/**
 * A deterministic fault schedule: the same input gives the same faults at the same times. Faults
 * are `everyMs` apart (plus up to a fifth of that as jitter), none in the first and last
 * `QUIET_MS` (so the fleet is warm before the first one and has load to show it recovered from the
 * last one). Kinds come in shuffled rounds, each round holding every kind once, so a run with at
 * least as many slots as kinds covers every kind.
 */
export function planFaults(input: ScheduleInput): PlannedFault[] {
  const rng = createPrng(input.seed);
  const quiet = Math.min(QUIET_MS, input.durationMs / 6);
  const last = input.durationMs - quiet;
  const faults: PlannedFault[] = [];
  let round: FaultKind[] = [];
  for (let slot = quiet; slot <= last && input.kinds.length > 0; slot += input.everyMs) {
    if (round.length === 0) round = nextRound(rng, input.kinds, faults.at(-1)?.kind);
    const kind = round.shift()!;
    const atMs = Math.round(Math.min(last, slot + rng() * input.everyMs * 0.2));
    faults.push({ index: faults.length + 1, kind, atMs, ...details(kind, rng, input) });
  }
  return faults;
}

/** Every kind once, shuffled; never the kind that just ran first, so no fault follows itself. */
function nextRound(rng: Prng, kinds: readonly FaultKind[], previous: FaultKind | undefined): FaultKind[] {
  const round = [...kinds];
  for (let i = round.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [round[i], round[j]] = [round[j]!, round[i]!];
  }
  if (round.length > 1 && round[0] === previous) [round[0], round[1]] = [round[1]!, round[0]!];
  return round;
}

function details(
  kind: FaultKind,
  rng: Prng,
  input: ScheduleInput,
): Pick<PlannedFault, 'target' | 'windowMs'> {
  const pick = (names: readonly string[]) => names[Math.floor(rng() * names.length)]!;
  switch (kind) {
    case 'worker':
      return { target: pick(input.workers) };
    case 'llm-sim':
      return { target: pick(input.sims) };
    case 'gateway':
    case 'redis-server':
    case 'postgres':
      return { target: kind };
    case 'llm-errors':
    case 'llm-latency':
      return { windowMs: Math.round(Math.min(5_000, input.everyMs / 2)) };
  }
}
