import { FleetError, userKeys } from '@agent-fleet/core';
import type { Redis } from 'ioredis';
import { scripts } from './lua.ts';

export type AcquireResult =
  | { kind: 'acquired'; done: number }
  | { kind: 'duplicate'; done: number }
  | { kind: 'park'; done: number }
  | { kind: 'busy'; done: number; leaseMsLeft: number };

export type FinishResult = { kind: 'finished'; nextPayload: string | null } | { kind: 'already-finished' };

/** What the gate knows of a user: the last finished turn, the next pending payload, the lease. */
export interface GateView {
  done: number;
  nextPayload: string | null;
  leaseHolder: string | null;
}

/**
 * The per-user turn gate (ARCHITECTURE: per-user ordering). Turn `seq` runs only once `seq-1` is
 * finished and while this delivery holds the user's lease; order lives in `seq`/`done`, not in
 * queue position, so retries, redeliveries and parallel workers cannot reorder a user's turns.
 */
export class TurnGate {
  readonly #redis: Redis;
  readonly #namespace: string;
  readonly #leaseMs: number;

  constructor(opts: { redis: Redis; namespace: string; leaseMs: number }) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
    this.#leaseMs = opts.leaseMs;
  }

  get leaseMs(): number {
    return this.#leaseMs;
  }

  async acquire(userId: string, seq: number, token: string): Promise<AcquireResult> {
    const k = userKeys(this.#namespace, userId);
    const [code, done, pttl] = (await scripts.gateAcquire.run(
      this.#redis,
      [k.done, k.lease],
      [seq, token, this.#leaseMs],
    )) as [number, number, number];
    switch (code) {
      case 1:
        return { kind: 'acquired', done };
      case 0:
        return { kind: 'duplicate', done };
      case 2:
        return { kind: 'park', done };
      case 3:
        return { kind: 'busy', done, leaseMsLeft: Math.max(pttl, 0) };
      default:
        throw new FleetError('protocol_violation', `gate-acquire returned unknown code ${code}`);
    }
  }

  /** Returns false when the lease is no longer ours (it expired and may be held by another delivery). */
  async renew(userId: string, token: string): Promise<boolean> {
    const k = userKeys(this.#namespace, userId);
    return (await scripts.gateRenew.run(this.#redis, [k.lease], [token, this.#leaseMs])) === 1;
  }

  async release(userId: string, token: string): Promise<boolean> {
    const k = userKeys(this.#namespace, userId);
    return (await scripts.gateRelease.run(this.#redis, [k.lease], [token])) === 1;
  }

  /**
   * Finish turn `seq`. `token` is the lease holder; pass '' to finish a turn nobody runs (repair of a
   * turn whose job failed for good without being recorded).
   */
  async finish(userId: string, seq: number, token: string): Promise<FinishResult> {
    const k = userKeys(this.#namespace, userId);
    const [code, next] = (await scripts.gateFinish.run(
      this.#redis,
      [k.done, k.lease, k.pending],
      [seq, token],
    )) as [number, string | null];
    switch (code) {
      case 1:
        return { kind: 'finished', nextPayload: next };
      case 0:
        return { kind: 'already-finished' };
      case -1:
        throw new FleetError(
          'protocol_violation',
          `turn ${seq} of ${userId} finished before its predecessor`,
          {
            retryable: true,
          },
        );
      case -2:
        throw new FleetError('conflict', `turn ${seq} of ${userId} is held by another delivery`, {
          retryable: true,
        });
      default:
        throw new FleetError('protocol_violation', `gate-finish returned unknown code ${code}`);
    }
  }

  async peek(userId: string): Promise<GateView> {
    const k = userKeys(this.#namespace, userId);
    const [done, next, holder] = (await scripts.gatePeek.run(
      this.#redis,
      [k.done, k.lease, k.pending],
      [],
    )) as [number, string | null, string | null];
    return { done, nextPayload: next ?? null, leaseHolder: holder ?? null };
  }
}
