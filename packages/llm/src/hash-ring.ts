import { hashKey } from '@agent-fleet/core';

/**
 * A consistent-hash ring with virtual nodes. `order(key)` lists every server once, starting at the
 * key's position on the ring: the first is the key's home, the rest are where it spills to, so a
 * user keeps hitting the same server (and its warm prefix cache) until that server is full.
 */
export class HashRing {
  readonly #points: { hash: bigint; server: number }[];
  readonly #servers: number;

  constructor(serverIds: string[], virtualNodes = 128) {
    this.#servers = serverIds.length;
    this.#points = serverIds
      .flatMap((id, server) =>
        Array.from({ length: virtualNodes }, (_, v) => ({ hash: hashKey(`${id}#${v}`), server })),
      )
      .sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  }

  order(key: string): number[] {
    const h = hashKey(key);
    let lo = 0;
    let hi = this.#points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#points[mid]!.hash < h) lo = mid + 1;
      else hi = mid;
    }
    const out: number[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < this.#points.length && out.length < this.#servers; i++) {
      const p = this.#points[(lo + i) % this.#points.length]!;
      if (!seen.has(p.server)) {
        seen.add(p.server);
        out.push(p.server);
      }
    }
    return out;
  }
}
