import { describe, expect, it } from 'vitest';
import { hashKey, jumpConsistentHash, partitionOf } from './jump-hash.ts';

describe('jump consistent hash', () => {
  it('matches an independent implementation of the published algorithm', () => {
    // Computed with the paper's algorithm in Python, outside this code base.
    expect(jumpConsistentHash(0n, 1)).toBe(0);
    expect(jumpConsistentHash(123456789n, 10)).toBe(7);
    expect(jumpConsistentHash(123456789n, 100)).toBe(34);
    expect(jumpConsistentHash(123456789n, 1000)).toBe(294);
    expect(jumpConsistentHash(0xdeadbeefn, 8)).toBe(5);
    expect(jumpConsistentHash(2n ** 63n + 5n, 16)).toBe(8);
  });

  it('is stable: the same user always lands on the same partition', () => {
    const users = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
    const first = users.map((u) => partitionOf(u, 8));
    const second = users.map((u) => partitionOf(u, 8));
    expect(second).toEqual(first);
    expect(partitionOf('alice', 8)).toBe(partitionOf('alice', 8));
  });

  it('spreads users evenly over partitions', () => {
    const buckets = 8;
    const n = 80_000;
    const counts = new Array<number>(buckets).fill(0);
    for (let i = 0; i < n; i++) counts[partitionOf(`officer-${i}@bank.example`, buckets)]!++;
    const expected = n / buckets;
    // Chi-square with 7 degrees of freedom: 24.3 is the 0.999 quantile.
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(24.3);
  });

  it('moves only about 1/(n+1) of the users when a partition is added', () => {
    const n = 20_000;
    let moved = 0;
    for (let i = 0; i < n; i++) {
      const before = partitionOf(`u${i}`, 8);
      const after = partitionOf(`u${i}`, 9);
      if (before !== after) {
        moved++;
        expect(after).toBe(8); // keys only ever move to the new bucket
      }
    }
    expect(moved / n).toBeGreaterThan(1 / 9 - 0.02);
    expect(moved / n).toBeLessThan(1 / 9 + 0.02);
  });

  it('rejects a bucket count below one', () => {
    expect(() => jumpConsistentHash(hashKey('x'), 0)).toThrow(RangeError);
  });
});
