import { describe, expect, it } from 'vitest';
import { onFreshDatabase } from '../../../test/support/postgres.ts';
import { Transcript, type TurnTranscript } from './transcript.ts';

const turn = (n: number, text: string): TurnTranscript => ({
  turnId: `t_${String(n).padStart(32, '0')}`,
  userId: `user-${n}`,
  seq: 1,
  status: 'completed',
  enqueuedAt: 1000,
  completedAt: 2000,
  messages: [
    { role: 'user', content: text },
    { role: 'assistant', content: 'ok' },
  ],
});

describe('Transcript (real Postgres)', () => {
  const db = onFreshDatabase((pool) => ({ transcript: new Transcript({ pool }) }));

  it('a row Postgres refuses fails alone; the turns written in the same statement are stored', async () => {
    // Two statements go out at once; the turns recorded meanwhile wait and go together in the next.
    const writes = [turn(1, 'a'), turn(2, 'b'), turn(3, 'bad\u0000text'), turn(4, 'd'), turn(5, 'e')].map(
      (t) =>
        db.transcript.record(t).then(
          (inserted) => ({ inserted }),
          (err: Error & { code?: string }) => ({ refused: err.code }),
        ),
    );
    expect(await Promise.all(writes)).toEqual([
      { inserted: true },
      { inserted: true },
      { refused: '22021' },
      { inserted: true },
      { inserted: true },
    ]);
    const rows = await db.pool.query<{ user_id: string }>('SELECT user_id FROM turns ORDER BY user_id');
    expect(rows.rows.map((r) => r.user_id)).toEqual(['user-1', 'user-2', 'user-4', 'user-5']);
    expect(await db.transcript.record(turn(4, 'd'))).toBe(false);
  });
});
