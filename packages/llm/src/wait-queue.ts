/** What a request counts as in the wait queue's fair ordering across tenants. */
export interface FairShare {
  tenant: string;
  /** The tenant's weight (its share when tenants compete). */
  weight: number;
  /** The request's estimated tokens. */
  cost: number;
}

/** One request waiting for a server slot. */
export interface Waiter {
  priority: number;
  /** Its tenant's share, when it counts under one (untagged requests queue at the virtual time). */
  fair?: FairShare;
  /**
   * Tries to place the request; true when it got a slot and is on its way. With `homeOnly` it
   * takes only its preferred server (session affinity), never a spill-over one.
   */
  tryStart: (homeOnly: boolean) => boolean;
  /** Ends the wait with an error (the request never got a slot). */
  fail: (err: unknown) => void;
}

/** How far past the head of the queue a freed slot looks for a request that prefers its server. */
export const AFFINITY_WINDOW = 64;

/** Tenants kept per priority before the idle ones behind the virtual time are forgotten. */
const PRUNE_AT = 1024;
/** How much one charged call moves what a tenant's calls are learned to use beyond their estimate. */
const LEARN_RATE = 0.25;

/** A waiter, in arrival order; one that names no tenant keeps the virtual time it arrived at. */
interface Queued {
  waiter: Waiter;
  seq: number;
  tag: number;
}

/** A tenant's waiters in arrival order, its finish tag, and what its calls use beyond their estimates. */
interface Flow {
  weight: number;
  finish: number;
  waiting: Queued[];
  beyond?: number;
}

/**
 * One priority's waiters, served by start-time fair queueing across tenants in tokens: the next is
 * the head of the tenant whose start tag, max(virtual time, its finish tag), is lowest (arrival
 * order among equal tags; requests that name no tenant at the virtual time they arrived at). A
 * call is tagged when it gets its slot, not when it queues: a backlog queued at once is spaced by
 * what its tenant's calls really use as the charges come in, where tags given on arrival would
 * keep the estimates of the whole backlog (a tenant whose calls were estimated short took more
 * than its weight's share until its backlog had drained). The estimate is the call's own plus
 * what the tenant's calls used beyond theirs so far (the answer, the template), learned from the
 * charges.
 */
class FairLine {
  #virtualTime = 0;
  #seq = 0;
  #size = 0;
  readonly #plain: Queued[] = [];
  readonly #flows = new Map<string, Flow>();
  /** What each share was tagged at, for its charge. */
  readonly #tagged = new WeakMap<FairShare, number>();

  get size(): number {
    return this.#size;
  }

  push(waiter: Waiter): void {
    const q = { waiter, seq: this.#seq++, tag: this.#virtualTime };
    if (waiter.fair) this.#flow(waiter.fair).waiting.push(q);
    else this.#plain.push(q);
    this.#size++;
  }

  /** The first `n` waiters in the order they would get slots, without serving them. */
  peek(n: number): Queued[] {
    const heads = [...this.#flows.values()]
      .filter((f) => f.waiting.length > 0)
      .map((flow) => ({ flow, next: 0, finish: flow.finish }));
    let plain = 0;
    let v = this.#virtualTime;
    const out: Queued[] = [];
    while (out.length < n) {
      let best: (typeof heads)[number] | undefined;
      let bestTag = this.#plain[plain]?.tag ?? Number.POSITIVE_INFINITY;
      let bestSeq = this.#plain[plain]?.seq ?? Number.POSITIVE_INFINITY;
      for (const h of heads) {
        const q = h.flow.waiting[h.next];
        if (!q) continue;
        const tag = Math.max(v, h.finish);
        if (tag < bestTag || (tag === bestTag && q.seq < bestSeq)) {
          best = h;
          bestTag = tag;
          bestSeq = q.seq;
        }
      }
      if (bestTag === Number.POSITIVE_INFINITY) break;
      if (best) {
        const q = best.flow.waiting[best.next++]!;
        best.finish = bestTag + this.#cost(q.waiter.fair!, best.flow) / best.flow.weight;
        out.push(q);
      } else out.push(this.#plain[plain++]!);
      if (bestTag > v) v = bestTag;
    }
    return out;
  }

  /** `q` got its slot: it leaves the line and is tagged, its tenant charged its estimate. */
  started(q: Queued): void {
    const f = q.waiter.fair;
    const list = f ? this.#flow(f).waiting : this.#plain;
    const i = list.indexOf(q);
    if (i < 0) return;
    list.splice(i, 1);
    this.#size--;
    if (f) this.passed(q.waiter);
  }

  /** A waiter got a slot without waiting: tagged and started at once, as if it went through the line. */
  passed(waiter: Waiter): void {
    const f = waiter.fair;
    if (!f) return;
    const flow = this.#flow(f);
    const tag = Math.max(this.#virtualTime, flow.finish);
    const cost = this.#cost(f, flow);
    this.#tagged.set(f, cost);
    flow.finish = tag + cost / flow.weight;
    if (tag > this.#virtualTime) this.#virtualTime = tag;
  }

  /**
   * The tenant's call used `tokens` in all: its finish tag moves by the difference from what it was
   * tagged at, and what it used beyond its estimate is learned for the tenant's next calls.
   */
  charge(share: FairShare, tokens: number): void {
    const flow = this.#flow(share);
    flow.finish += (tokens - (this.#tagged.get(share) ?? share.cost)) / flow.weight;
    const beyond = tokens - share.cost;
    flow.beyond = flow.beyond === undefined ? beyond : flow.beyond + LEARN_RATE * (beyond - flow.beyond);
  }

  remove(waiter: Waiter): boolean {
    const list = waiter.fair ? this.#flows.get(waiter.fair.tenant)?.waiting : this.#plain;
    const i = list ? list.findIndex((q) => q.waiter === waiter) : -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    this.#size--;
    return true;
  }

  /** Removes and returns every waiter. */
  drain(): Waiter[] {
    const all = [this.#plain, ...[...this.#flows.values()].map((f) => f.waiting)]
      .flatMap((list) => list.splice(0))
      .sort((a, b) => a.seq - b.seq)
      .map((q) => q.waiter);
    this.#size = 0;
    return all;
  }

  #cost(f: FairShare, flow: Flow): number {
    return Math.max(0, f.cost + (flow.beyond ?? 0));
  }

  #flow(f: FairShare): Flow {
    let flow = this.#flows.get(f.tenant);
    if (!flow) {
      if (this.#flows.size >= PRUNE_AT)
        for (const [t, idle] of this.#flows)
          if (idle.waiting.length === 0 && idle.finish <= this.#virtualTime) this.#flows.delete(t);
      flow = { weight: weightOf(f), finish: 0, waiting: [] };
      this.#flows.set(f.tenant, flow);
    }
    flow.weight = weightOf(f);
    return flow;
  }
}

const weightOf = (f: FairShare) => (f.weight > 0 ? f.weight : 1);

/**
 * Requests waiting for a server slot, served lowest priority value first (interactive before
 * batch) and, within a priority, fairly across tenants: start-time fair queueing in tokens, so a
 * tenant with many requests waiting takes its weight's share of the freed slots and a tenant that
 * just arrived goes ahead of that backlog, not behind it (requests of one tenant, and requests
 * that name none, keep their arrival order). A freed slot first goes to a request of the top
 * priority, among the first AFFINITY_WINDOW, whose preferred server it is: under a backlog that
 * keeps users on their warm server instead of spilling them wherever a slot opens, and the head
 * still goes next to whatever slot remains.
 */
export class WaitQueue {
  readonly #byPriority = new Map<number, FairLine>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  sizeOf(priority: number): number {
    return this.#byPriority.get(priority)?.size ?? 0;
  }

  push(w: Waiter): void {
    this.#line(w.priority).push(w);
    this.#size++;
  }

  /** A waiter that got its slot at once, never queued: it counts in its tenant's fair share all the same. */
  passed(w: Waiter): void {
    if (w.fair) this.#line(w.priority).passed(w);
  }

  /**
   * A call of `share` at `priority` used `tokens` in all: its tenant's share is corrected, so
   * tenants share the slots by the tokens they really used.
   */
  charge(priority: number, share: FairShare, tokens: number): void {
    this.#line(priority).charge(share, tokens);
  }

  #line(priority: number): FairLine {
    let line = this.#byPriority.get(priority);
    if (!line) {
      line = new FairLine();
      this.#byPriority.set(priority, line);
    }
    return line;
  }

  remove(w: Waiter): boolean {
    if (!this.#byPriority.get(w.priority)?.remove(w)) return false;
    this.#size--;
    return true;
  }

  /** Removes and returns every waiter, highest priority first; the caller fails them. */
  drain(): Waiter[] {
    const priorities = [...this.#byPriority.keys()].sort((a, b) => a - b);
    const all = priorities.flatMap((p) => this.#byPriority.get(p)!.drain());
    this.#size = 0;
    return all;
  }

  /** Start waiters in order until one cannot be placed (no slot left for it). */
  pump(): void {
    const priorities = [...this.#byPriority.keys()].sort((a, b) => a - b);
    const top = priorities.map((p) => this.#byPriority.get(p)!).find((l) => l.size > 0);
    if (top) {
      for (const q of top.peek(AFFINITY_WINDOW)) {
        if (q.waiter.tryStart(true)) {
          top.started(q);
          this.#size--;
        }
      }
    }
    for (const p of priorities) {
      const line = this.#byPriority.get(p)!;
      for (let [q] = line.peek(1); q; [q] = line.peek(1)) {
        if (!q.waiter.tryStart(false)) return;
        line.started(q);
        this.#size--;
      }
    }
  }
}
