import { userKeys } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { TurnGate } from './gate.ts';
import { Scratchpad } from './scratchpad.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

describe('Scratchpad (real Redis)', () => {
  it('writes several fields in one call, with an expiry, and the gate hands them back', async () => {
    const namespace = freshNamespace();
    const pad = new Scratchpad({ redis, namespace });
    await pad.save('ada', 't1', { v: '2', grounding: '{}', 'step:1': '{"kind":"model"}' });
    await pad.save('ada', 't1', { v: '2', 'step:2': '{"kind":"tool"}' });
    await pad.save('ada', 't1', {});
    const key = userKeys(namespace, 'ada').scratchpad('t1');
    expect(await redis.ttl(key)).toBeGreaterThan(3600);
    const gate = new TurnGate({
      redis,
      namespace,
      leaseMs: 5000,
      recordTtlSeconds: 60,
      hotStateTtlSeconds: 60,
    });
    await redis.hset(userKeys(namespace, 'ada').pending, 1, '{}');
    expect(await gate.begin('ada', 1, 't1', 'lease')).toMatchObject({
      kind: 'acquired',
      scratchpad: { v: '2', grounding: '{}', 'step:1': '{"kind":"model"}', 'step:2': '{"kind":"tool"}' },
    });
  });
});
