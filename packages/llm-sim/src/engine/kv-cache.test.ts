import { describe, expect, it } from 'vitest';
import { extendBlockHashes, KvCache } from './kv-cache.ts';

describe('KvCache', () => {
  it('keeps freed blocks cached and evicts the least recently freed first, tail blocks before head blocks', () => {
    const kv = new KvCache(4);
    const a = kv.allocate(2);
    kv.register(a[0]!, 'a0');
    kv.register(a[1]!, 'a1');
    const b = kv.allocate(2);
    kv.register(b[0]!, 'b0');
    kv.register(b[1]!, 'b1');
    expect(kv.freeBlocks).toBe(0);
    kv.release(a); // frees a1 then a0
    kv.release(b); // frees b1 then b0
    expect(kv.usedBlocks).toBe(0);
    expect(kv.lookup(['a0', 'a1'])).toEqual(a);
    kv.allocate(1); // evicts a1 (the first freed)
    expect(kv.lookup(['a0', 'a1'])).toEqual([a[0]]);
    expect(kv.lookup(['b0', 'b1'])).toEqual(b);
    expect(kv.cachedBlocks).toBe(3);
  });

  it('shares a cached block between sequences and frees it only when the last one lets go', () => {
    const kv = new KvCache(2);
    const [block] = kv.allocate(1);
    kv.register(block!, 'h');
    kv.acquire([block!]);
    expect(kv.usedBlocks).toBe(1);
    kv.release([block!]);
    expect(kv.usedBlocks).toBe(1);
    kv.release([block!]);
    expect(kv.usedBlocks).toBe(0);
    expect(() => kv.release([block!])).toThrow();
    // Taking a cached free block back counts against the free blocks.
    expect(kv.canAllocate(1, [block!])).toBe(true);
    expect(kv.canAllocate(2, [block!])).toBe(false);
  });

  it('hashes blocks as a chain, seeded by the cache salt', () => {
    const tokens = Array.from({ length: 40 }, (_, i) => i);
    const plain = extendBlockHashes([], tokens, 16, undefined);
    expect(plain).toHaveLength(2);
    expect(extendBlockHashes([], tokens, 16, 'salt')[0]).not.toBe(plain[0]);
    const changedFirst = extendBlockHashes([], [99, ...tokens.slice(1)], 16, undefined);
    expect(changedFirst[1]).not.toBe(plain[1]);
    expect(extendBlockHashes(plain.slice(0, 1), tokens, 16, undefined)).toEqual(plain);
  });
});
