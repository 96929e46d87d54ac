/** Cancels a timer; calling it after the timer fired is harmless. */
export type CancelTimer = () => void;

/**
 * Where the engine reads time and schedules its steps. The server uses {@link realClock}; tests use
 * {@link VirtualClock}, which only moves when told to, so scheduler runs are deterministic and fast.
 */
export interface Clock {
  /** Milliseconds on a monotonic timeline. */
  now(): number;
  /** Runs `fn` once after `delayMs` (0: as soon as possible, but never synchronously). */
  setTimer(delayMs: number, fn: () => void): CancelTimer;
}

/** Wall-clock time: `performance.now()`, `setTimeout`, and `setImmediate` for zero delays. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer(delayMs, fn) {
    if (delayMs <= 0) {
      const handle = setImmediate(fn);
      return () => clearImmediate(handle);
    }
    const handle = setTimeout(fn, delayMs);
    return () => clearTimeout(handle);
  },
};

interface VirtualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that advances only through {@link advance} / {@link runUntilIdle}. Timers due at the same
 * instant fire in the order they were set.
 */
export class VirtualClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers: VirtualTimer[] = [];

  now(): number {
    return this.#now;
  }

  setTimer(delayMs: number, fn: () => void): CancelTimer {
    const timer: VirtualTimer = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      const i = this.#timers.indexOf(timer);
      if (i >= 0) this.#timers.splice(i, 1);
    };
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  #popNext(limit: number): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.#timers) {
      if (t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    if (best) this.#timers.splice(this.#timers.indexOf(best), 1);
    return best;
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let t = this.#popNext(target); t; t = this.#popNext(target)) {
      this.#now = t.at;
      t.fn();
    }
    this.#now = target;
  }

  /** Fires timers in time order until none is left; throws after `maxTimers` to catch livelocks. */
  runUntilIdle(maxTimers = 1_000_000): void {
    for (let i = 0; i < maxTimers; i++) {
      const t = this.#popNext(Number.POSITIVE_INFINITY);
      if (!t) return;
      this.#now = t.at;
      t.fn();
    }
    throw new Error(`VirtualClock: still busy after ${maxTimers} timers`);
  }
}
