import { hostname } from 'node:os';
import type { Logger, WorkerHeartbeat } from '@agent-fleet/core';
import type { WorkerHeartbeats } from '@agent-fleet/turns';
import type { RunningTurns } from '../running-turns.ts';
import type { LlmServerWindow } from './llm-view.ts';
import type { TenantTokenWindow } from './tenant-tokens.ts';

/** How often a worker writes its heartbeat, and how long one stays valid (a few missed beats). */
export const HEARTBEAT_INTERVAL_MS = 1000;
export const HEARTBEAT_TTL_MS = 5000;
/** What the per-minute figures of a heartbeat cover. */
export const HEARTBEAT_WINDOW_MS = 60_000;

export interface HeartbeatOptions {
  store: Pick<WorkerHeartbeats, 'publish' | 'remove'>;
  running: Pick<RunningTurns, 'list'>;
  llm: Pick<LlmServerWindow, 'read'>;
  tenants: Pick<TenantTokenWindow, 'read'>;
  /** Turns this worker may run at once. */
  slots: number;
  logger: Logger;
  /** Defaults to `<host>-<pid>`: a pod's name and its process, unique across the fleet. */
  workerId?: string;
}

/**
 * Tells the fleet what this worker runs, every second, through Redis (`WorkerHeartbeats`): the
 * gateway's `GET /v1/admin/fleet` reads every live worker's heartbeat. A beat that cannot be
 * written (Redis away) is skipped; the heartbeat expires after a few, so a worker cut off from
 * Redis drops out of the view as one that died does. Closing removes it at once.
 */
export class Heartbeat {
  readonly workerId: string;
  readonly #o: HeartbeatOptions;
  readonly #startedAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;

  constructor(opts: HeartbeatOptions) {
    this.#o = opts;
    this.workerId = opts.workerId ?? `${hostname()}-${process.pid}`.replace(/[^\w.-]/g, '_');
  }

  start(): void {
    this.#timer = setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS);
    this.#timer.unref();
    void this.beat();
  }

  /** Writes one heartbeat now (one at a time: a beat still writing makes this one wait for it). */
  async beat(): Promise<void> {
    if (this.#beating) return this.#beating;
    this.#beating = this.#write().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#beating;
    await this.#o.store.remove(this.workerId).catch(() => {});
  }

  async #write(): Promise<void> {
    const at = Date.now();
    const hb: WorkerHeartbeat = {
      v: 1,
      workerId: this.workerId,
      host: hostname(),
      pid: process.pid,
      startedAt: this.#startedAt,
      at,
      slots: this.#o.slots,
      windowSeconds: HEARTBEAT_WINDOW_MS / 1000,
      turns: this.#o.running.list(),
      llm: await this.#o.llm.read(at),
      tenants: this.#o.tenants.read(at),
    };
    await this.#o.store.publish(hb, HEARTBEAT_TTL_MS).catch((err: unknown) => {
      this.#o.logger.debug({ err: (err as Error).message }, 'could not write the heartbeat');
    });
  }
}
