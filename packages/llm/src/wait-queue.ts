/** One request waiting for a server slot. */
export interface Waiter {
  priority: number;
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

/**
 * Requests waiting for a server slot, served lowest priority value first (interactive before
 * batch) and first come, first served within a priority — except that a freed slot first goes to
 * a request of the top priority, among the first AFFINITY_WINDOW, whose preferred server it is:
 * under a backlog that keeps users on their warm server instead of spilling them wherever a slot
 * opens, and the head still goes next to whatever slot remains.
 */
export class WaitQueue {
  readonly #byPriority = new Map<number, Waiter[]>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  sizeOf(priority: number): number {
    return this.#byPriority.get(priority)?.length ?? 0;
  }

  push(w: Waiter): void {
    const list = this.#byPriority.get(w.priority);
    if (list) list.push(w);
    else this.#byPriority.set(w.priority, [w]);
    this.#size++;
  }

  remove(w: Waiter): boolean {
    const list = this.#byPriority.get(w.priority);
    const i = list ? list.indexOf(w) : -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    this.#size--;
    return true;
  }

  /** Removes and returns every waiter, highest priority first; the caller fails them. */
  drain(): Waiter[] {
    const priorities = [...this.#byPriority.keys()].sort((a, b) => a - b);
    const all = priorities.flatMap((p) => this.#byPriority.get(p)!);
    this.#byPriority.clear();
    this.#size = 0;
    return all;
  }

  /** Start waiters in order until one cannot be placed (no slot left for it). */
  pump(): void {
    const priorities = [...this.#byPriority.keys()].sort((a, b) => a - b);
    const top = priorities.map((p) => this.#byPriority.get(p)!).find((l) => l.length > 0);
    if (top) {
      for (let i = 0; i < Math.min(AFFINITY_WINDOW, top.length); ) {
        if (top[i]!.tryStart(true)) {
          top.splice(i, 1);
          this.#size--;
        } else i++;
      }
    }
    for (const p of priorities) {
      const list = this.#byPriority.get(p)!;
      while (list.length > 0) {
        if (!list[0]!.tryStart(false)) return;
        list.shift();
        this.#size--;
      }
    }
  }
}
