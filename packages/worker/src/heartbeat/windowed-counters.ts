/**
 * Counters that only grow, sampled over time, read as what they gained over the last `windowMs`:
 * the newest sample minus the oldest one still in the window (a key the oldest sample lacks counts
 * from 0). Readers get per-window figures without keeping state of their own.
 */
export class WindowedCounters {
  readonly #windowMs: number;
  readonly #samples: { at: number; values: Map<string, number> }[] = [];

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Records the counters' values at `at`, and drops the samples the window no longer needs. */
  sample(at: number, values: Map<string, number>): void {
    this.#samples.push({ at, values: new Map(values) });
    // Keep one sample at or before the window's start, so the window is covered whole.
    while (this.#samples.length > 2 && this.#samples[1]!.at <= at - this.#windowMs) this.#samples.shift();
  }

  /** What each counter gained between the oldest and the newest sample (0 with fewer than two). */
  gained(): Map<string, number> {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    const out = new Map<string, number>();
    if (!first || !last || first === last) return out;
    for (const [key, value] of last.values) out.set(key, Math.max(0, value - (first.values.get(key) ?? 0)));
    return out;
  }

  /** Seconds between the oldest and the newest sample: what `gained` covers. */
  spanSeconds(): number {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    return first && last ? (last.at - first.at) / 1000 : 0;
  }
}
