import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultConfigPatch } from '@agent-fleet/llm-sim';
import { type InspectTarget, unknownTurns } from './inspect.ts';
import { isFinal, type Ledger } from './ledger.ts';
import type { PlannedFault } from './schedule.ts';
import type { SoakStack } from './stack.ts';

/** What happened to one planned fault. */
export interface FaultRecord {
  readonly planned: PlannedFault;
  /** When it was injected (epoch ms): the SIGKILL, or the knobs turned. */
  startedAt?: number;
  /** When it was over: the killed service ready again (Supervisor `ready`), or the knobs turned back. */
  endedAt?: number;
  killedPid?: number;
  restartedPid?: number;
  /** Why it could not be injected, or why its service did not come back. */
  error?: string;
  /**
   * Redis kills: turns the client had a 202 for before the SIGKILL, how many of them arrived in
   * the last second before it, and those redis-server did not know after its restart (reloading
   * its AOF): with `appendfsync always` there should be none.
   */
  durability?: {
    acceptedBefore: number;
    acceptedLastSecond: number;
    /** Of those, the turns not seen finished yet: Redis held their only copy. */
    unfinishedAtKill: number;
    unknownAfter: string[];
  };
}

/** The knobs each knob fault turns on every simulator, and how they are turned back. */
const KNOBS: Record<'llm-errors' | 'llm-latency', { on: FaultConfigPatch; off: FaultConfigPatch }> = {
  'llm-errors': { on: { errorRate: 0.5 }, off: { errorRate: 0 } },
  'llm-latency': { on: { spikeRate: 0.5, spikeMs: 3_000 }, off: { spikeRate: 0 } },
};

/** How long a service may take to come back before the fault is reported as not recovered. */
const RETURN_TIMEOUT_MS = 120_000;

/**
 * Injects the planned faults at their times, one after the other: a kill waits for the killed
 * service to be ready again (the devstack Supervisor restarts it; nothing here restarts anything),
 * so a fault never lands on a service that is still coming back from the previous one.
 */
export class FaultRunner {
  readonly records: FaultRecord[];
  readonly #stack: SoakStack;
  readonly #ledger: Ledger;
  readonly #target: InspectTarget;
  readonly #log: (line: string) => void;
  readonly #outageMs: number;

  constructor(opts: {
    plan: readonly PlannedFault[];
    stack: SoakStack;
    ledger: Ledger;
    /** Where to ask whether the turns accepted before a SIGKILL of redis-server are still known. */
    target: InspectTarget;
    /** How long a killed process stays down before its restart may run. */
    outageMs: number;
    log: (line: string) => void;
  }) {
    this.#outageMs = opts.outageMs;
    this.records = opts.plan.map((planned) => ({ planned }));
    this.#stack = opts.stack;
    this.#ledger = opts.ledger;
    this.#target = opts.target;
    this.#log = opts.log;
  }

  /** Faults injected so far. */
  injected(): number {
    return this.records.filter((r) => r.startedAt !== undefined).length;
  }

  async run(loadStartedAt: number, signal: AbortSignal): Promise<void> {
    for (const record of this.records) {
      const wait = loadStartedAt + record.planned.atMs - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => {});
      if (signal.aborted) return;
      const { kind, target } = record.planned;
      this.#log(
        `fault ${record.planned.index}/${this.records.length}: ${kind}${target ? ` (${target})` : ''}`,
      );
      try {
        if (target) await this.#kill(record, target);
        else await this.#knobs(record, kind as keyof typeof KNOBS);
      } catch (err) {
        record.error = (err as Error).message.split('\n')[0];
        this.#log(`fault ${record.planned.index} (${kind}): ${record.error}`);
      }
    }
  }

  async #kill(record: FaultRecord, service: string): Promise<void> {
    const supervisor = this.#stack.supervisor;
    await this.#untilRunning(service);
    const back = supervisor.nextReady(service, RETURN_TIMEOUT_MS);
    back.catch(() => {});
    const before = service === 'redis-server' ? this.#acceptedSoFar() : undefined;
    if (this.#outageMs > 0) this.#stack.holdRestart(service, this.#outageMs);
    record.startedAt = Date.now();
    record.killedPid = supervisor.kill(service, 'SIGKILL');
    const ready = await back;
    record.endedAt = Date.now();
    record.restartedPid = ready.pid;
    if (before) {
      const { turnIds, ...counts } = before;
      record.durability = { ...counts, unknownAfter: await unknownTurns(this.#target, turnIds) };
    }
  }

  async #knobs(record: FaultRecord, kind: keyof typeof KNOBS): Promise<void> {
    record.startedAt = Date.now();
    await this.#configureSims(KNOBS[kind].on);
    await sleep(record.planned.windowMs ?? 5_000);
    await this.#configureSims(KNOBS[kind].off);
    record.endedAt = Date.now();
  }

  /** PUT /sim/config on every simulator; one that is down (a kill just hit it) starts clean anyway. */
  async #configureSims(patch: FaultConfigPatch): Promise<void> {
    await Promise.all(
      [...this.#stack.simAdminUrls.values()].map((admin) =>
        fetch(`${admin}/sim/config`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(patch),
          signal: AbortSignal.timeout(5_000),
        }).catch(() => undefined),
      ),
    );
  }

  async #untilRunning(service: string): Promise<void> {
    const deadline = Date.now() + RETURN_TIMEOUT_MS;
    while (this.#stack.supervisor.state(service) !== 'running') {
      if (Date.now() > deadline)
        throw new Error(`${service} is not running (${this.#stack.supervisor.state(service)})`);
      await sleep(100);
    }
  }

  #acceptedSoFar() {
    const now = Date.now();
    const accepted = this.#ledger.entries.filter((e) => e.state === 'accepted');
    return {
      turnIds: accepted.map((e) => e.turnId!),
      acceptedBefore: accepted.length,
      acceptedLastSecond: accepted.filter((e) => now - e.acceptedAt! <= 1_000).length,
      unfinishedAtKill: accepted.filter((e) => !isFinal(e.status)).length,
    };
  }
}
