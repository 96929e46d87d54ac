import { randomInt } from 'node:crypto';

/** A source of uniform numbers in [0, 1); the same seed always yields the same sequence. */
export type Prng = () => number;

/** A fresh random 32-bit seed, for runs that did not ask for one (log it to reproduce the run). */
export function randomSeed(): number {
  return randomInt(0, 2 ** 32);
}

/** mulberry32: tiny, fast and good enough for fault injection; seeds are taken modulo 2^32. */
export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
