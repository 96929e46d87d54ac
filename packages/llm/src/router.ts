import type { HashRing } from './hash-ring.ts';

export type RoutingStrategy = 'session' | 'least-loaded' | 'round-robin';

/** What the router knows of one server when it picks. */
export interface ServerView {
  index: number;
  /** Requests this pool has in flight there. */
  inFlight: number;
  /** The pool's cap for that server. */
  maxInFlight: number;
  /** May it take a request (healthy, circuit not open, not excluded for this attempt)? */
  available: boolean;
  /** Requests waiting inside the server, as last scraped from its /metrics. */
  waiting: number;
  /** KV-cache usage 0..1, as last scraped. */
  kvUsage: number;
}

export interface RouterOptions {
  strategy: RoutingStrategy;
  ring: HashRing;
  /** Bounded-load slack ε: no server takes more than ⌈(1+ε) × average⌉ in-flight requests. */
  loadFactor: number;
  /** A server is "hot" (spill past it) when its scraped queue or KV usage passes these. */
  hotWaiting: number;
  hotKvUsage: number;
}

/** Most keys the session router remembers as served off their ring home; the oldest goes first. */
export const SPILL_MEMORY = 16_384;

/**
 * Picks a server for a request among those that can take one, or returns -1 when none can.
 * `session`: consistent hashing with bounded loads (Mirrokni et al.) keyed by user: the user's home
 * server unless it is over its share or hot, else the next one on the ring. A user whose last
 * request spilled off their ring home has their latest history cached where it ran, so that
 * server comes first for them until a request of theirs runs on the ring home again (a spill costs
 * one prefill of the history, not one per turn, and users move off an overloaded home instead of
 * spilling again every turn). Loads stay bounded: the remembered server is held to the same share.
 */
export class Router {
  readonly #o: RouterOptions;
  #rr = 0;
  /** Key → the server its last request ran on, for keys served off their ring home (insertion = age). */
  readonly #spilled = new Map<string, number>();

  constructor(opts: RouterOptions) {
    this.#o = opts;
  }

  /**
   * The key's preferred server when it can take the request now (session routing: home on the ring,
   * within its bounded share, not hot); -1 otherwise, and always for the other strategies.
   */
  home(key: string, servers: ServerView[]): number {
    if (this.#o.strategy !== 'session') return -1;
    const total = servers.reduce((n, s) => n + s.inFlight, 0) + 1;
    const bound = Math.ceil((total / servers.length) * (1 + this.#o.loadFactor));
    const i = this.#order(key).find((j) => servers[j]!.available);
    if (i === undefined) return -1;
    const s = servers[i]!;
    const ok =
      s.inFlight < s.maxInFlight &&
      s.inFlight + 1 <= bound &&
      s.waiting <= this.#o.hotWaiting &&
      s.kvUsage <= this.#o.hotKvUsage;
    return ok ? i : -1;
  }

  pick(key: string, servers: ServerView[]): number {
    const open = servers.filter((s) => s.available && s.inFlight < s.maxInFlight);
    if (open.length === 0) return -1;
    switch (this.#o.strategy) {
      case 'round-robin': {
        for (let i = 0; i < servers.length; i++) {
          const s = servers[(this.#rr + i) % servers.length]!;
          if (s.available && s.inFlight < s.maxInFlight) {
            this.#rr = (s.index + 1) % servers.length;
            return s.index;
          }
        }
        return -1;
      }
      case 'least-loaded':
        return leastLoaded(open);
      case 'session': {
        const total = servers.reduce((n, s) => n + s.inFlight, 0) + 1;
        const bound = Math.ceil((total / servers.length) * (1 + this.#o.loadFactor));
        for (const i of this.#order(key)) {
          const s = servers[i]!;
          if (!s.available || s.inFlight >= s.maxInFlight) continue;
          if (s.inFlight + 1 > bound) continue;
          if (s.waiting > this.#o.hotWaiting || s.kvUsage > this.#o.hotKvUsage) continue;
          return i;
        }
        return leastLoaded(open);
      }
    }
  }

  /** A request of `key` runs on server `index` now: remember it when that is not the key's ring home. */
  served(key: string, index: number): void {
    if (this.#o.strategy !== 'session') return;
    this.#spilled.delete(key);
    if (index === this.#o.ring.order(key)[0]) return;
    this.#spilled.set(key, index);
    if (this.#spilled.size > SPILL_MEMORY) this.#spilled.delete(this.#spilled.keys().next().value!);
  }

  /** Session order for `key`: the server it spilled to last, if any, then its ring order. */
  #order(key: string): number[] {
    const ring = this.#o.ring.order(key);
    const last = this.#spilled.get(key);
    return last === undefined ? ring : [last, ...ring.filter((i) => i !== last)];
  }
}

function leastLoaded(servers: ServerView[]): number {
  let best = servers[0]!;
  const load = (s: ServerView) => (s.inFlight + s.waiting) / s.maxInFlight;
  for (const s of servers) if (load(s) < load(best)) best = s;
  return best.index;
}
