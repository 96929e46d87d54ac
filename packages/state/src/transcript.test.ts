import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/stack.ts';
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
  let pool: pg.Pool;
  let transcript: Transcript;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await freshDatabase(), max: 4 });
    transcript = new Transcript({ pool });
  });
  afterAll(() => pool.end());

  it('a row Postgres refuses fails alone; the turns written in the same statement are stored', async () => {
    // Two statements go out at once; the turns recorded meanwhile wait and go together in the next.
    const writes = [turn(1, 'a'), turn(2, 'b'), turn(3, 'bad\u0000text'), turn(4, 'd'), turn(5, 'e')].map(
      (t) =>
        transcript.record(t).then(
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
    const rows = await pool.query<{ user_id: string }>('SELECT user_id FROM turns ORDER BY user_id');
    expect(rows.rows.map((r) => r.user_id)).toEqual(['user-1', 'user-2', 'user-4', 'user-5']);
    expect(await transcript.record(turn(4, 'd'))).toBe(false);
  });
});
