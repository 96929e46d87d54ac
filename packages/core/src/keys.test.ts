import { describe, expect, it } from 'vitest';
import { CLUSTER_SLOTS, keySlot } from './key-slot.ts';
import { partitionHashTag, partitionQueuePrefix } from './keys.ts';

/** How many of partitions 0..P-1 land on each of `masters` masters serving equal slot ranges. */
function spread(partitions: number, masters: number): number[] {
  const counts = new Array<number>(masters).fill(0);
  for (let i = 0; i < partitions; i++) {
    const slot = keySlot(partitionQueuePrefix('fleet', i));
    counts[Math.floor((slot * masters) / CLUSTER_SLOTS)]! += 1;
  }
  return counts;
}

describe('partition hash tags', () => {
  it('never change: a queue that moved would strand its jobs', () => {
    expect(Array.from({ length: 8 }, (_, i) => partitionHashTag(i))).toEqual([
      'agent.p0~40',
      'agent.p1~2',
      'agent.p2~160',
      'agent.p3~28',
      'agent.p4~150',
      'agent.p5~78',
      'agent.p6~10',
      'agent.p7~33',
    ]);
    expect(partitionQueuePrefix('fleet', 3)).toBe('fleet:{agent.p3~28}');
  });

  it('spread the partitions evenly over masters serving equal slot ranges', () => {
    expect(spread(8, 3)).toEqual([3, 3, 2]);
    expect(spread(8, 4)).toEqual([2, 2, 2, 2]);
    expect(spread(16, 4)).toEqual([4, 4, 4, 4]);
    for (const [partitions, masters] of [
      [8, 3],
      [16, 5],
      [32, 3],
      [64, 6],
    ] as const) {
      const counts = spread(partitions, masters);
      expect(Math.max(...counts) - Math.min(...counts), `${partitions} over ${masters}`).toBeLessThanOrEqual(
        2,
      );
    }
    // What the plain tags agent.p0..p7 would give: four of eight on the first master.
    const plain = Array.from({ length: 8 }, (_, i) =>
      Math.floor((keySlot(`agent.p${i}`) * 3) / CLUSTER_SLOTS),
    );
    expect(plain.filter((m) => m === 0)).toHaveLength(4);
  });
});
