import { describe, expect, it } from 'vitest';
import { type LoggedRequest, RequestLog } from './request-log.ts';

const entry = (user: string): LoggedRequest => ({
  user,
  model: null,
  temperature: null,
  tools: [],
  stream: false,
  priority: 0,
  responseFormat: null,
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

describe('searching the request log', () => {
  it('finds requests by the text of their messages, without listing that text', () => {
    const log = new RequestLog();
    log.record(entry('a'), 'policy on gifts');
    log.record(entry('b'), 'retention schedule');
    expect(log.list(undefined, 'retention').map((e) => e.user)).toEqual(['b']);
    expect(log.list('a', 'retention')).toEqual([]);
    expect(JSON.stringify(log.list())).not.toContain('gifts');
  });
});
