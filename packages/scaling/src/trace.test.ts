import { describe, expect, it } from 'vitest';
import { parseTrace, rateAt } from './trace.ts';

describe('load traces', () => {
  it('reads seconds or clock times, skips the header and comments, and interpolates linearly', () => {
    const t = parseTrace('# morning\ntime,messages_per_second\n07:00,10\n07:01:00,70\n\n07:02,70\n', 'm');
    expect(t.points).toEqual([
      { at: 0, rate: 10 },
      { at: 60, rate: 70 },
      { at: 120, rate: 70 },
    ]);
    expect(t.duration).toBe(120);
    expect(rateAt(t, 30)).toBe(40);
    expect(rateAt(t, 90)).toBe(70);
    expect(rateAt(t, 121)).toBe(0);
    expect(parseTrace('0,1\n5,2', 's').duration).toBe(5);
  });

  it('names the line of a bad row', () => {
    expect(() => parseTrace('0,1\n5,x', 't.csv')).toThrow('t.csv line 2: rate "x" is not a number ≥ 0');
    expect(() => parseTrace('0,1\n0,2', 't.csv')).toThrow('t.csv line 2: time must increase');
    expect(() => parseTrace('0,1\nsoon,2', 't.csv')).toThrow(/line 2: time "soon"/);
    expect(() => parseTrace('0,1', 't.csv')).toThrow(/at least two points/);
  });
});
