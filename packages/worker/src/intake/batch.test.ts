import { describe, expect, it } from 'vitest';
import { runInKeyOrder } from './batch.ts';

describe('runInKeyOrder', () => {
  it("runs one key's items one at a time in order, other keys alongside, and settles each", async () => {
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const running_ = new Map<string, number>();
    const items = ['a1', 'b1', 'a2', 'x', 'b2', 'a3'];
    const outcomes = await runInKeyOrder(
      items,
      (item) => (item === 'x' ? undefined : item[0]),
      async (item) => {
        const key = item[0]!;
        running_.set(key, (running_.get(key) ?? 0) + 1);
        expect(running_.get(key)).toBe(1);
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setImmediate(r));
        log.push(item);
        running--;
        running_.set(key, running_.get(key)! - 1);
        if (item === 'a2') throw new Error('a2 refused');
        return item.toUpperCase();
      },
    );
    expect(log.filter((i) => i.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(log.filter((i) => i.startsWith('b'))).toEqual(['b1', 'b2']);
    expect(most).toBeGreaterThan(1);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
      'A1',
      'B1',
      'a2 refused',
      'X',
      'B2',
      'A3',
    ]);
  });
});
