import { stripVTControlCharacters } from 'node:util';
import type { FleetSnapshot } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { initialState, onKey, type TopState } from './top-state.ts';
import { duration, renderTop } from './top-view.ts';

const snapshot: FleetSnapshot = {
  at: Date.UTC(2026, 0, 1, 12, 0, 0),
  queues: [
    {
      queue: 'agent.p0',
      kind: 'partition',
      backlog: 2,
      waiting: 1,
      prioritized: 0,
      delayedReady: 0,
      active: 1,
      oldestWaitingSeconds: 0.5,
    },
    {
      queue: 'agent.p1',
      kind: 'partition',
      backlog: 30,
      waiting: 25,
      prioritized: 0,
      delayedReady: 1,
      active: 4,
      oldestWaitingSeconds: 75,
    },
  ],
  workers: [
    {
      workerId: 'host-1',
      host: 'host',
      pid: 1,
      startedAt: 0,
      lastSeenAt: Date.UTC(2026, 0, 1, 12, 0, 0) - 400,
      slots: 64,
      turnsInFlight: 5,
    },
  ],
  llm: [
    {
      server: 'http://vllm-0:8000/v1',
      inFlight: 5,
      openIn: 0,
      workers: 1,
      serverWaiting: 2,
      kvCacheUsage: 0.4,
      requestsPerMinute: 120,
      errorsPerMinute: 0,
      ttftMs: 45,
      cacheHitRate: 0.86,
      tokensPerMinute: 12000,
    },
  ],
  turns: [
    {
      turnId: 't_fast',
      userId: 'ada',
      seq: 1,
      queue: 'agent.p0',
      tenant: 'acme',
      attempt: 1,
      startedAt: 0,
      stage: 'tool',
      stageStartedAt: 0,
      workerId: 'host-1',
      runningSeconds: 1.2,
      stageSeconds: 0.3,
    },
    {
      turnId: 't_slow',
      userId: 'bob',
      seq: 4,
      queue: 'agent.p1',
      attempt: 2,
      startedAt: 0,
      stage: 'model',
      stageStartedAt: 0,
      workerId: 'host-1',
      runningSeconds: 9.5,
      stageSeconds: 8,
    },
  ],
  tenants: [
    { tenant: 'acme', tokensPerMinute: 12000, promptTokensPerMinute: 11000, completionTokensPerMinute: 1000 },
  ],
  recovery: { at: Date.UTC(2026, 0, 1, 11, 59, 57), users: 10, stuck: 0 },
};

const frame = { url: 'http://gw', snapshot, intervalSeconds: 2, columns: 200, rows: 60 };
const plain = (lines: string[]) => lines.map((l) => stripVTControlCharacters(l));
const press = (state: TopState, ...keys: Parameters<typeof onKey>[1][]) =>
  keys.reduce((s, k) => onKey(s, k).state, state);

describe('fleet top: the screen and its keys', () => {
  it('draws every section, the slowest turn first, with its stage', () => {
    const lines = plain(renderTop(frame, initialState()));
    expect(lines[1]).toBe(
      'backlog 32  oldest waiting 1m15s  workers 1  turns 5/64 slots  stuck users 0 (sweep 3.0s ago)',
    );
    const turns = lines.findIndex((l) => l.startsWith('SLOWEST RUNNING TURNS'));
    expect(lines[turns]).toBe('SLOWEST RUNNING TURNS  2  sorted by running desc');
    expect(lines[turns + 2]).toMatch(/^t_slow\s+bob\s+-\s+model\s+8\.0s\s+host-1\s+9\.5s\s+2$/);
    expect(lines[turns + 3]).toMatch(/^t_fast\s+ada\s+acme\s+tool\s/);
    expect(
      lines.some((l) => /^http:\/\/vllm-0:8000\/v1\s+5\s+2\s+120\s+0\s+45ms\s+86%\s+12,000\s+0\/1$/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => /^agent\.p1\s+30\s+25\s+0\s+1\s+4\s+1m15s$/.test(l))).toBe(true);
    expect(lines.some((l) => /^acme\s+12,000\s+11,000\s+1,000$/.test(l))).toBe(true);
  });

  it('sorts the focused section by its next column, reverses, and filters every section', () => {
    // Focus the queues (turns -> tenants -> queues), sort by oldest, then reverse.
    let s = press(initialState(), { name: 'tab' }, { name: 'tab' }, { name: 's' });
    expect(s.focus).toBe('queues');
    let lines = plain(renderTop(frame, s));
    const q = lines.findIndex((l) => l.startsWith('QUEUES'));
    expect(lines[q]).toBe('QUEUES  2  sorted by oldest desc');
    expect(lines[q + 2]).toMatch(/^agent\.p1/);
    s = press(s, { name: 'r' });
    expect(plain(renderTop(frame, s))[q + 2]).toMatch(/^agent\.p0/);
    // A filter typed after "/" narrows every section to rows that mention it.
    s = press(
      s,
      { sequence: '/', name: undefined },
      { sequence: 'b' },
      { sequence: 'o' },
      { name: 'backspace' },
      { sequence: 'o' },
      { sequence: 'b' },
      { name: 'return' },
    );
    expect(s.filter).toBe('bob');
    lines = plain(renderTop(frame, s));
    expect(lines.find((l) => l.startsWith('SLOWEST RUNNING TURNS'))).toBe(
      'SLOWEST RUNNING TURNS  1 of 2  sorted by running desc',
    );
    expect(lines.some((l) => l.startsWith('t_fast'))).toBe(false);
    expect(press(s, { name: 'escape' }).filter).toBe('');
    expect(onKey(s, { name: 'q' }).quit).toBe(true);
    expect(onKey(s, { name: 'c', ctrl: true }).quit).toBe(true);
  });

  it('fits the terminal: no line wider than it, no more lines than it has', () => {
    const small = renderTop({ ...frame, columns: 40, rows: 12 }, initialState());
    expect(small.length).toBeLessThanOrEqual(12);
    for (const l of plain(small)) expect(l.length).toBeLessThanOrEqual(40);
  });

  it('gives the slowest turns the rows the other sections leave, and still shows the tenants', () => {
    const many = {
      ...snapshot,
      turns: Array.from({ length: 50 }, (_, i) => ({
        ...snapshot.turns[0]!,
        turnId: `t_${i}`,
        runningSeconds: i,
      })),
    };
    // 3 header lines, 3 per section, 2 queues, 1 worker, 1 server, 1 tenant: 14 turns and "… 36 more".
    const lines = plain(renderTop({ ...frame, snapshot: many, rows: 38 }, initialState()));
    expect(lines).toHaveLength(38);
    expect(lines).toContain('… 36 more');
    expect(lines.at(-1)).toMatch(/^acme\s/);
  });

  it('says durations the way an operator reads them', () => {
    expect([0.045, 4.25, 75, 7260].map(duration)).toEqual(['45ms', '4.3s', '1m15s', '2h01m']);
  });
});
