import { describe, expect, it } from 'vitest';
import { parseClusterNodes } from './redis-cluster.ts';

describe('parseClusterNodes', () => {
  it('reads roles, masters, failure flags and slot ranges (migrating slots left out)', () => {
    const text = [
      'a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 7000 [93->-b2]',
      'b2 127.0.0.1:7001@17001,host.example master,fail - 1 2 2 disconnected 5461-6999 7001-10922',
      'c3 127.0.0.1:7002@17002 slave a1 0 3 1 connected',
      'd4 127.0.0.1:7003@17003 slave,fail? b2 0 3 2 connected',
      '',
    ].join('\n');
    expect(parseClusterNodes(text)).toEqual([
      {
        id: 'a1',
        port: 7000,
        role: 'master',
        masterId: undefined,
        failing: false,
        slots: [
          [0, 5460],
          [7000, 7000],
        ],
      },
      {
        id: 'b2',
        port: 7001,
        role: 'master',
        masterId: undefined,
        failing: true,
        slots: [
          [5461, 6999],
          [7001, 10922],
        ],
      },
      { id: 'c3', port: 7002, role: 'replica', masterId: 'a1', failing: false, slots: [] },
      { id: 'd4', port: 7003, role: 'replica', masterId: 'b2', failing: true, slots: [] },
    ]);
  });
});
