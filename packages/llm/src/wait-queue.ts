/** One request waiting for a server slot. */
export interface Waiter {
  priority: number;
  /** Tries to place the request; true when it got a slot and is on its way. */
  tryStart: () => boolean;
}

/**
 * Requests waiting for a server slot, served lowest priority value first (interactive before
 * batch) and first come, first served within a priority.
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

  /** Start waiters in order until one cannot be placed (no slot left for it). */
  pump(): void {
    const priorities = [...this.#byPriority.keys()].sort((a, b) => a - b);
    for (const p of priorities) {
      const list = this.#byPriority.get(p)!;
      while (list.length > 0) {
        if (!list[0]!.tryStart()) return;
        list.shift();
        this.#size--;
      }
    }
  }
}
