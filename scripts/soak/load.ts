import { setTimeout as sleep } from 'node:timers/promises';
import type { Prng } from '@agent-fleet/llm-sim';
import type { Channel, Ledger, LedgerEntry } from './ledger.ts';
import type { Senders } from './senders.ts';

/** A simulated user: one channel for all its messages, and at most one message in flight. */
export interface SoakUser {
  readonly userId: string;
  readonly channel: Channel;
  busy: boolean;
}

/** `count` users, the first `sdkShare` of them (rounded) on the SDK, in an order the PRNG mixes. */
export function makeUsers(count: number, sdkShare: number, rng: Prng): SoakUser[] {
  const sdk = Math.round(count * sdkShare);
  const channels = Array.from({ length: count }, (_, i): Channel => (i < sdk ? 'sdk' : 'http'));
  for (let i = channels.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [channels[i], channels[j]] = [channels[j]!, channels[i]!];
  }
  return channels.map((channel, i) => ({ userId: `soak-user-${i}`, channel, busy: false }));
}

export interface LoadOptions {
  users: SoakUser[];
  /** Messages per second, all users together. */
  rate: number;
  rng: Prng;
  ledger: Ledger;
  senders: Senders;
  /** Tags idempotency keys, so two runs never share one. */
  runTag: string;
}

/**
 * Sends messages at a steady rate, each from a user picked at random among those with nothing in
 * flight: a user's messages go one at a time, so their send order is the order the fleet must run
 * them in. A message whose answer was lost is retried with its Idempotency-Key (backing off up to
 * 2 s) before the user sends anything else, until a definite answer or the resolve deadline.
 */
export class LoadGenerator {
  readonly #o: LoadOptions;
  readonly #inFlight = new Set<Promise<void>>();
  /** Ticks on which every user was still busy. */
  skipped = 0;
  /** Past this time a lost answer is no longer retried: the message stays unresolved. */
  resolveDeadline = Number.POSITIVE_INFINITY;

  constructor(opts: LoadOptions) {
    this.#o = opts;
  }

  /** Sends until `untilMs` (epoch ms), then returns; messages in flight carry on (see `settle`). */
  async run(untilMs: number, signal: AbortSignal): Promise<void> {
    const intervalMs = 1000 / this.#o.rate;
    const start = Date.now();
    for (let tick = 0; !signal.aborted; tick++) {
      const due = start + tick * intervalMs;
      if (due >= untilMs) break;
      if (due > Date.now()) await sleep(due - Date.now());
      const user = this.#pickIdle();
      if (!user) {
        this.skipped++;
        continue;
      }
      const sending = this.#send(user).finally(() => this.#inFlight.delete(sending));
      this.#inFlight.add(sending);
    }
  }

  /** Resolves once every message sent has its answer (or was given up at the resolve deadline). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #pickIdle(): SoakUser | undefined {
    const users = this.#o.users;
    for (let tries = 0; tries < 8; tries++) {
      const user = users[Math.floor(this.#o.rng() * users.length)]!;
      if (!user.busy) return user;
    }
    const start = Math.floor(this.#o.rng() * users.length);
    for (let i = 0; i < users.length; i++) {
      const user = users[(start + i) % users.length]!;
      if (!user.busy) return user;
    }
    return undefined;
  }

  async #send(user: SoakUser): Promise<void> {
    user.busy = true;
    try {
      const entry = this.#o.ledger.open(user.userId, user.channel, this.#o.runTag);
      await this.#resolve(entry);
    } finally {
      user.busy = false;
    }
  }

  /** Sends, and retries a lost answer with the same key; a refusal on a retry proves nothing, so it retries too. */
  async #resolve(entry: LedgerEntry): Promise<void> {
    const send = this.#o.senders[entry.channel];
    for (let backoff = 250; ; backoff = Math.min(backoff * 2, 2_000)) {
      entry.requests++;
      const outcome = await send(entry);
      if (outcome.kind === 'accepted') {
        this.#o.ledger.accept(entry, outcome);
        return;
      }
      entry.reason = outcome.reason;
      if (outcome.kind === 'unknown' && entry.requests === 1) entry.lostAnswer = outcome.reason;
      if (outcome.kind === 'refused' && entry.requests === 1) {
        entry.state = 'refused';
        return;
      }
      if (Date.now() + backoff > this.resolveDeadline) {
        entry.state = 'unresolved';
        return;
      }
      await sleep(backoff);
    }
  }
}
