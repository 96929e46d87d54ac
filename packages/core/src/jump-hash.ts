import { createHash } from 'node:crypto';

const MASK64 = (1n << 64n) - 1n;
const MULT = 2862933555777941757n;

/**
 * Jump consistent hash (Lamping & Veach, 2014): maps a 64-bit key to one of `buckets` buckets so
 * that growing from n to n+1 buckets moves only 1/(n+1) of the keys.
 */
export function jumpConsistentHash(key: bigint, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1)
    throw new RangeError(`buckets must be a positive integer, got ${buckets}`);
  let k = key & MASK64;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    k = (k * MULT + 1n) & MASK64;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(k >> 33n) + 1)));
  }
  return b;
}

/** The 64-bit key of a string: the first 8 bytes of its SHA-256, big-endian. */
export function hashKey(value: string): bigint {
  return createHash('sha256').update(value, 'utf8').digest().readBigUInt64BE(0);
}

/** The partition a user's turns go to: jump hash of the userId over P partitions. */
export function partitionOf(userId: string, partitions: number): number {
  return jumpConsistentHash(hashKey(userId), partitions);
}
