import { beforeAll, describe, expect, it } from 'vitest';
import { useGateway } from './support/gateway.ts';

interface Page {
  messages: { turnId: string; seq: number; role: string; content: string }[];
  nextAfterSeq: number | null;
}

describe('history paging: following nextAfterSeq visits every message once and ends', () => {
  const { app, deps } = useGateway({ env: { AUTH_MODE: 'off' } });
  /** Every message recorded, in order: turns of 1 (failed), 2 and 3 (coalesced) messages. */
  const recorded: string[] = [];

  beforeAll(async () => {
    const sizes = [2, 2, 1, 3, 2, 2, 1, 1, 3, 2, 2];
    for (const [i, size] of sizes.entries()) {
      const seq = i + 1;
      const messages = Array.from({ length: size }, (_, k) => ({
        role: k === size - 1 && size > 1 ? ('assistant' as const) : ('user' as const),
        content: `turn ${seq} message ${k}`,
      }));
      await deps.transcript.record({
        turnId: `t_${String(seq).padStart(32, '0')}`,
        userId: 'ann',
        seq,
        status: size === 1 ? 'failed' : 'completed',
        enqueuedAt: Date.now(),
        completedAt: Date.now(),
        messages,
      });
      recorded.push(...messages.map((m) => m.content));
    }
  });

  const page = async (afterSeq: number, limit: number): Promise<Page> => {
    const res = await app.inject({
      method: 'GET',
      url: `/v1/users/ann/history?afterSeq=${afterSeq}&limit=${limit}`,
    });
    expect(res.statusCode).toBe(200);
    return res.json() as Page;
  };

  it.each([1, 2, 3, 4, 5, 7, 22, 23, 200])('limit %i', async (limit) => {
    const seen: string[] = [];
    let afterSeq = 0;
    for (let pages = 0; ; pages++) {
      expect(pages, 'the cursor must end').toBeLessThan(recorded.length + 2);
      const p = await page(afterSeq, limit);
      seen.push(...p.messages.map((m) => m.content));
      // Whole turns only: a turn is never split across pages.
      if (p.messages.length > limit) expect(new Set(p.messages.map((m) => m.seq)).size).toBe(1);
      if (p.nextAfterSeq === null) break;
      expect(p.nextAfterSeq).toBeGreaterThan(afterSeq);
      expect(p.nextAfterSeq).toBe(p.messages.at(-1)!.seq);
      afterSeq = p.nextAfterSeq;
    }
    expect(seen).toEqual(recorded);
  });

  it('the page the probe found: afterSeq=5&limit=2 moves the cursor past turn 6', async () => {
    const p = await page(5, 2);
    expect(p.messages.map((m) => m.seq)).toEqual([6, 6]);
    expect(p.nextAfterSeq).toBe(6);
    expect(await page(11, 2)).toEqual({ userId: 'ann', messages: [], nextAfterSeq: null });
  });
});
