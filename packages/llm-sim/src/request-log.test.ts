import { describe, expect, it } from 'vitest';
import { type LoggedRequest, RequestLog } from './request-log.ts';

const entry = (user: string): LoggedRequest => ({
  user,
  model: null,
  temperature: null,
  tools: [],
  stream: false,
  priority: 0,
});

describe('RequestLog', () => {
  it('keeps the newest entries up to its size, oldest first', () => {
    const log = new RequestLog(3);
    for (const u of ['a', 'b', 'c', 'd', 'e']) log.record(entry(u));
    expect(log.list().map((e) => e.user)).toEqual(['c', 'd', 'e']);
  });

  it('returns copies that later changes do not reach', () => {
    const log = new RequestLog();
    log.record(entry('a'));
    const listed = log.list('a');
    listed[0]!.tools.push('x');
    log.clear();
    expect(listed).toHaveLength(1);
    expect(log.list()).toEqual([]);
  });
});
