import type { RunningTurn, TurnJob } from '@agent-fleet/core';
import type { Gauge } from 'prom-client';
import type { TurnStages } from './stage-timer.ts';

interface Entry {
  job: TurnJob;
  queue: string;
  attempt: number;
  startedAt: number;
  stages: TurnStages;
  tenant?: string;
}

/**
 * The turns this process runs now, each with its stage clock: what the worker's heartbeat reports
 * and `fleet_worker_turns_running` counts. A delivery is in it from the gate opening until it settles.
 */
export class RunningTurns {
  readonly #turns = new Map<string, Entry>();
  readonly #gauge: Pick<Gauge, 'set'>;

  constructor(gauge: Pick<Gauge, 'set'>) {
    this.#gauge = gauge;
  }

  /** Adds a delivery; what it returns sets its tenant once the profile is known, and removes it when done. */
  add(entry: Omit<Entry, 'tenant'>): { tenant(tenant: string): void; done(): void } {
    const e: Entry = { ...entry };
    this.#turns.set(entry.job.turnId, e);
    this.#gauge.set(this.#turns.size);
    return {
      tenant: (tenant) => {
        e.tenant = tenant;
      },
      done: () => {
        if (this.#turns.get(entry.job.turnId) === e) this.#turns.delete(entry.job.turnId);
        this.#gauge.set(this.#turns.size);
      },
    };
  }

  get size(): number {
    return this.#turns.size;
  }

  /** Every running turn with its current stage. */
  list(): RunningTurn[] {
    return [...this.#turns.values()].map((e) => {
      const { stage, since } = e.stages.current;
      return {
        turnId: e.job.turnId,
        userId: e.job.userId,
        seq: e.job.seq,
        queue: e.queue,
        ...(e.tenant === undefined ? {} : { tenant: e.tenant }),
        attempt: e.attempt,
        startedAt: e.startedAt,
        stage,
        stageStartedAt: since,
      };
    });
  }
}
