import type { Logger } from '@agent-fleet/core';

/** What a worker depends on to run and record turns. */
export type Dependency = 'postgres' | 'redis' | 'llm';

/** Checks one dependency now. `up` resolves true when it answers; the watch bounds how long it may take. */
export interface DependencyProbe {
  dependency: Dependency;
  up(): Promise<boolean>;
}

/** A dependency found away, and since when (ms). */
export interface DownDependency {
  dependency: Dependency;
  since: number;
}

export interface OutageWatchOptions {
  probes: DependencyProbe[];
  logger: Logger;
  /** How often dependencies found away are checked again until they are back. */
  pollMs?: number;
  /** A probe that has not answered within this long counts as down. */
  probeTimeoutMs?: number;
  now?: () => number;
}

/**
 * Which dependencies this process finds away, since when, and when they are back. Turns that meet
 * an outage error ask it to check (one check at a time, shared by everyone asking); a dependency
 * found away is checked again every `pollMs` (or at once when `nudge` says it may be back) until it
 * answers, then everyone waiting is woken and the recovery listeners run. `since` is kept until the
 * dependency answers again, so how long it was away is measured from its first failed check.
 */
export class OutageWatch {
  readonly #probes: DependencyProbe[];
  readonly #logger: Logger;
  readonly #pollMs: number;
  readonly #probeTimeoutMs: number;
  readonly #now: () => number;
  readonly #down = new Map<Dependency, number>();
  readonly #waiters = new Set<() => void>();
  readonly #listeners = new Set<() => void>();
  #checking: Promise<DownDependency[]> | undefined;
  #poll: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: OutageWatchOptions) {
    this.#probes = opts.probes;
    this.#logger = opts.logger;
    this.#pollMs = opts.pollMs ?? 500;
    this.#probeTimeoutMs = opts.probeTimeoutMs ?? 2000;
    this.#now = opts.now ?? Date.now;
  }

  /** The dependencies known away now. */
  down(): DownDependency[] {
    return [...this.#down].map(([dependency, since]) => ({ dependency, since }));
  }

  /** Check every dependency now (joining a check in flight) and return those away. */
  check(): Promise<DownDependency[]> {
    this.#checking ??= this.#runCheck().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /**
   * Resolves once no dependency is known away (at once when none is), or after `maxMs`; rejects
   * with the signal's reason when it aborts first.
   */
  whenUp(maxMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#down.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const stop = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
      };
      const done = () => {
        stop();
        resolve();
      };
      const onAbort = () => {
        stop();
        reject(signal?.reason);
      };
      const timer = setTimeout(done, maxMs);
      this.#waiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Calls `listener` each time the last dependency away comes back; returns the unsubscribe function. */
  onRecovered(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A sign that a dependency may be back (a reconnect, an LLM server healthy again): check now. */
  nudge(): void {
    if (this.#down.size > 0 && !this.#closed) void this.check();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#poll);
    for (const wake of [...this.#waiters]) wake();
  }

  async #runCheck(): Promise<DownDependency[]> {
    const results = await Promise.all(
      this.#probes.map(async (p) => ({ dependency: p.dependency, up: await this.#probe(p) })),
    );
    const wasDown = this.#down.size > 0;
    const now = this.#now();
    for (const { dependency, up } of results) {
      const since = this.#down.get(dependency);
      if (up && since !== undefined) {
        this.#down.delete(dependency);
        this.#logger.info({ dependency, awayMs: now - since }, 'dependency is back');
      } else if (!up && since === undefined) {
        this.#down.set(dependency, now);
        this.#logger.warn({ dependency }, 'dependency is away; turns wait for it');
      }
    }
    if (this.#down.size > 0) this.#schedulePoll();
    else if (wasDown) this.#recovered();
    return this.down();
  }

  async #probe(p: DependencyProbe): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#probeTimeoutMs);
    });
    try {
      return await Promise.race([p.up().catch(() => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #schedulePoll(): void {
    if (this.#closed) return;
    clearTimeout(this.#poll);
    this.#poll = setTimeout(() => void this.check(), this.#pollMs);
    this.#poll.unref();
  }

  #recovered(): void {
    clearTimeout(this.#poll);
    for (const wake of [...this.#waiters]) wake();
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (err) {
        this.#logger.warn({ err: (err as Error).message }, 'recovery listener failed');
      }
    }
  }
}
