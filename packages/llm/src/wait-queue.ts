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

/** Tenants' finish tags kept per priority before the ones behind the virtual time are forgotten. */
const PRUNE_AT = 1024;
/** How much one charged call moves what a tenant's calls are learned to use beyond their estimate. */
const LEARN_RATE = 0.25;

/** A waiter and its start tag in its priority's fair order. */
interface Tagged {
  waiter: Waiter;
  tag: number;
}

/**
 * One priority's waiters in start-tag order, its virtual time, and its tenants' finish tags. A
 * call is tagged at its estimate plus what its tenant's calls used beyond their estimates so far
 * (the answer, the chat template; learned from the charges, the line's average for a tenant not
 * charged yet): many calls are tagged at once under a backlog, before any is charged, and a
 * tenant whose calls were tagged short of what they use would take more than its weight's share
 * until the charges caught up.
 */
class FairLine {
  readonly items: Tagged[] = [];
  #virtualTime = 0;
  readonly #finish = new Map<string, number>();
  /** Tokens a call used beyond its estimate, a moving average per tenant and over the line. */
  readonly #beyond = new Map<string, number>();
  #beyondAll: number | undefined;
  /** What each share was tagged at, for its charge. */
  readonly #tagged = new WeakMap<FairShare, number>();

  /** Queues a waiter at its start tag. */
  push(waiter: Waiter): void {
    const tag = this.#tag(waiter);
    // After every waiter with a tag not above it: equal tags keep their arrival order.
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.items[mid]!.tag <= tag) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, { waiter, tag });
  }

  /** The waiter at `i` got its slot: the virtual time moves to its tag. */
  started(i: number): void {
    const [{ tag }] = this.items.splice(i, 1) as [Tagged];
    if (tag > this.#virtualTime) this.#virtualTime = tag;
  }

  /** A waiter got a slot without waiting: tagged and started at once, as if it went through the line. */
  passed(waiter: Waiter): void {
    const tag = this.#tag(waiter);
    if (tag > this.#virtualTime) this.#virtualTime = tag;
  }

  /**
   * The tenant's call used `tokens` in all: its finish tag moves by the difference from what it was
   * tagged at, and what it used beyond its estimate is learned for the tenant's next calls.
   */
  charge(share: FairShare, tokens: number): void {
    const finish = this.#finish.get(share.tenant);
    const tagged = this.#tagged.get(share) ?? share.cost;
    if (finish !== undefined) this.#finish.set(share.tenant, finish + (tokens - tagged) / weightOf(share));
    const beyond = tokens - share.cost;
    const mine = this.#beyond.get(share.tenant);
    this.#beyond.set(share.tenant, mine === undefined ? beyond : mine + LEARN_RATE * (beyond - mine));
    this.#beyondAll =
      this.#beyondAll === undefined ? beyond : this.#beyondAll + LEARN_RATE * (beyond - this.#beyondAll);
  }

  /** Start-time fair queueing: tagged at max(virtual time, the tenant's last finish tag). */
  #tag(waiter: Waiter): number {
    const f = waiter.fair;
    if (!f) return this.#virtualTime;
    const tag = Math.max(this.#virtualTime, this.#finish.get(f.tenant) ?? 0);
    const cost = Math.max(0, f.cost + (this.#beyond.get(f.tenant) ?? this.#beyondAll ?? 0));
    this.#tagged.set(f, cost);
    this.#finish.set(f.tenant, tag + cost / weightOf(f));
    if (this.#finish.size > PRUNE_AT)
      for (const [t, finish] of this.#finish)
        if (finish <= this.#virtualTime) {
          this.#finish.delete(t);
          this.#beyond.delete(t);
        }
    return tag;
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
    return this.#byPriority.get(priority)?.items.length ?? 0;
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
    const line = this.#byPriority.get(w.priority);
    const i = line ? line.items.findIndex((t) => t.waiter === w) : -1;
    if (i < 0) return false;
    line!.items.splice(i, 1);
    this.#size--;
    return true;
  }

  /** Removes and returns every waiter, highest priority first; the caller fails them. */
  drain(): Waiter[] {
    const priorities = [...this.#byPriority.keys()].sort((a, b) => a - b);
    const all = priorities.flatMap((p) => this.#byPriority.get(p)!.items.map((t) => t.waiter));
    this.#byPriority.clear();
    this.#size = 0;
    return all;
  }

  /** Start waiters in order until one cannot be placed (no slot left for it). */
  pump(): void {
    const priorities = [...this.#byPriority.keys()].sort((a, b) => a - b);
    const top = priorities.map((p) => this.#byPriority.get(p)!).find((l) => l.items.length > 0);
    if (top) {
      for (let i = 0; i < Math.min(AFFINITY_WINDOW, top.items.length); ) {
        if (top.items[i]!.waiter.tryStart(true)) {
          top.started(i);
          this.#size--;
        } else i++;
      }
    }
    for (const p of priorities) {
      const line = this.#byPriority.get(p)!;
      while (line.items.length > 0) {
        if (!line.items[0]!.waiter.tryStart(false)) return;
        line.started(0);
        this.#size--;
      }
    }
  }
}
