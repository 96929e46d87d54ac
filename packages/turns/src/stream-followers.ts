/** An entry of a Redis stream as XREAD returns it: its id and its fields as [name, value, ...]. */
export type StreamEntry = [id: string, fields: string[]];

/**
 * Follows many Redis streams for many followers at once, each follower from its own position: what
 * `TurnEvents.tail` needs. `StreamReader` (one blocking read, standalone Redis) and `StreamPoller`
 * (no connection of its own, any Redis including Cluster) implement it.
 */
export interface StreamFollower {
  /**
   * Hands `onEntries` every entry of `key` after `afterId`, in order, in batches, until the
   * returned function is called; after that it is never called again.
   */
  follow(key: string, afterId: string, onEntries: (entries: StreamEntry[]) => void): () => void;
  /** Stops reading. */
  close(): void;
  /** Streams followed right now. */
  readonly streams: number;
}

/** Orders stream ids (`<ms>-<seq>`, or `0`). */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

const maxId = (a: string, b: string) => (compareStreamIds(a, b) >= 0 ? a : b);

interface Follower {
  /** The last id handed to this follower. */
  cursor: string;
  onEntries: (entries: StreamEntry[]) => void;
}

/**
 * The followers of each followed stream and how far each has got: what both readers keep, so a
 * stream is read once from the oldest position any of its followers needs and each follower gets
 * exactly the entries after its own position.
 */
export class FollowedStreams {
  readonly #streams = new Map<string, Set<Follower>>();

  get size(): number {
    return this.#streams.size;
  }

  keys(): string[] {
    return [...this.#streams.keys()];
  }

  /** Adds a follower of `key` after `afterId`; returns the function that removes it. */
  add(key: string, afterId: string, onEntries: (entries: StreamEntry[]) => void): () => void {
    const follower: Follower = { cursor: afterId, onEntries };
    const followers = this.#streams.get(key) ?? new Set<Follower>();
    this.#streams.set(key, followers);
    followers.add(follower);
    return () => {
      followers.delete(follower);
      if (followers.size === 0 && this.#streams.get(key) === followers) this.#streams.delete(key);
    };
  }

  /** Where a read of `key` starts: the oldest position of its followers. */
  oldestCursor(key: string): string {
    let oldest: string | undefined;
    for (const f of this.#streams.get(key) ?? [])
      if (oldest === undefined || compareStreamIds(f.cursor, oldest) < 0) oldest = f.cursor;
    return oldest ?? '$';
  }

  /**
   * Hands each follower of `key` the entries after its own position. `entries` are the ones right
   * after `from`; a follower positioned before `from` (it came while the read was in flight) waits
   * for the next read, which starts from its position.
   */
  deliver(key: string, from: string, entries: StreamEntry[]): void {
    const followers = this.#streams.get(key);
    const last = entries.at(-1);
    if (!followers || !last) return;
    for (const f of [...followers]) {
      if (!followers.has(f) || compareStreamIds(f.cursor, from) < 0) continue;
      const fresh = entries.filter(([id]) => compareStreamIds(id, f.cursor) > 0);
      f.cursor = maxId(f.cursor, last[0]);
      if (fresh.length > 0) f.onEntries(fresh);
    }
  }
}
