import { createHash } from 'node:crypto';

/**
 * Hash of one full block in a prefix chain: the parent block's hash plus this block's token ids.
 * The first block's parent is derived from the cache salt, so requests with different salts never
 * share a block, and a block only matches when everything before it matches too (as in vLLM).
 */
export function blockHash(parent: string, tokens: readonly number[]): string {
  const h = createHash('sha256');
  h.update(parent);
  h.update(Buffer.from(Uint32Array.from(tokens).buffer));
  return h.digest('base64');
}

/** The parent hash of a sequence's first block. */
export function rootHash(cacheSalt: string | undefined): string {
  return cacheSalt === undefined
    ? 'root'
    : createHash('sha256').update(`salt\0${cacheSalt}`).digest('base64');
}

/**
 * Hashes of the full blocks of `tokens`, extending `known` (hashes already computed for a prefix
 * of the same tokens) in place, and returning it.
 */
export function extendBlockHashes(
  known: string[],
  tokens: readonly number[],
  blockSize: number,
  cacheSalt: string | undefined,
): string[] {
  const full = Math.floor(tokens.length / blockSize);
  for (let i = known.length; i < full; i++) {
    const parent = i === 0 ? rootHash(cacheSalt) : known[i - 1]!;
    known.push(blockHash(parent, tokens.slice(i * blockSize, (i + 1) * blockSize)));
  }
  return known;
}

/**
 * A paged KV cache of `numBlocks` blocks with vLLM's prefix caching: a block is in use while any
 * sequence references it; an unreferenced block keeps its contents (and its hash) in an LRU free
 * queue until it is reallocated, so a later prompt with the same prefix can reuse it. Allocation
 * takes the least recently freed block and evicts its hash.
 */
export class KvCache {
  readonly numBlocks: number;
  readonly #refs: Int32Array;
  readonly #hashOf: (string | undefined)[];
  readonly #blockOf = new Map<string, number>();
  /** Free blocks in eviction order (Map keeps insertion order; the first key is evicted first). */
  readonly #free = new Map<number, true>();

  constructor(numBlocks: number) {
    this.numBlocks = numBlocks;
    this.#refs = new Int32Array(numBlocks);
    this.#hashOf = new Array(numBlocks).fill(undefined);
    for (let i = 0; i < numBlocks; i++) this.#free.set(i, true);
  }

  /** Blocks referenced by at least one sequence. */
  get usedBlocks(): number {
    return this.numBlocks - this.#free.size;
  }

  get freeBlocks(): number {
    return this.#free.size;
  }

  /** Blocks that still hold a cached prefix (in use or free but not yet evicted). */
  get cachedBlocks(): number {
    return this.#blockOf.size;
  }

  /** The blocks holding the longest cached prefix of `hashes` (stops at the first miss). */
  lookup(hashes: readonly string[]): number[] {
    const found: number[] = [];
    for (const h of hashes) {
      const block = this.#blockOf.get(h);
      if (block === undefined) break;
      found.push(block);
    }
    return found;
  }

  /** True when `newBlocks` fresh blocks can be allocated after taking `reused` (cached) blocks. */
  canAllocate(newBlocks: number, reused: readonly number[] = []): boolean {
    let freeAfterReuse = this.#free.size;
    for (const b of reused) if (this.#refs[b] === 0) freeAfterReuse--;
    return newBlocks <= freeAfterReuse;
  }

  /** Adds a reference to each (cached) block; free ones leave the free queue. */
  acquire(blocks: readonly number[]): void {
    for (const b of blocks) {
      if (this.#refs[b] === 0) this.#free.delete(b);
      this.#refs[b]!++;
    }
  }

  /** Takes `n` free blocks, least recently freed first, evicting their cached hashes. Throws when short. */
  allocate(n: number): number[] {
    if (n > this.#free.size) throw new Error(`KvCache: asked for ${n} blocks, ${this.#free.size} free`);
    const out: number[] = [];
    for (const b of this.#free.keys()) {
      if (out.length === n) break;
      out.push(b);
    }
    for (const b of out) {
      this.#free.delete(b);
      const h = this.#hashOf[b];
      if (h !== undefined) {
        this.#blockOf.delete(h);
        this.#hashOf[b] = undefined;
      }
      this.#refs[b] = 1;
    }
    return out;
  }

  /**
   * Drops one reference from each block. Blocks are freed tail first, so a sequence's last blocks
   * are evicted before its first ones (a shared prefix outlives the unique suffix).
   */
  release(blocks: readonly number[]): void {
    for (let i = blocks.length - 1; i >= 0; i--) {
      const b = blocks[i]!;
      if (this.#refs[b]! <= 0) throw new Error(`KvCache: block ${b} released more often than acquired`);
      if (--this.#refs[b]! === 0) this.#free.set(b, true);
    }
  }

  /** Records that `block` now holds the full block with `hash` (the first holder of a hash wins). */
  register(block: number, hash: string): void {
    if (this.#hashOf[block] !== undefined || this.#blockOf.has(hash)) return;
    this.#hashOf[block] = hash;
    this.#blockOf.set(hash, block);
  }

  /** Forgets every cached hash (blocks in use keep their contents but can no longer be shared). */
  resetPrefixCache(): void {
    this.#blockOf.clear();
    this.#hashOf.fill(undefined);
  }
}
