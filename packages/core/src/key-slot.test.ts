import { describe, expect, it } from 'vitest';
import { keySlot } from './key-slot.ts';

describe('keySlot', () => {
  it('matches CLUSTER KEYSLOT, hashing the tag alone when there is one', () => {
    // CLUSTER KEYSLOT on Redis 7.0 for each key.
    const slots: Record<string, number> = {
      '123456789': 12739,
      foo: 12182,
      '{user1000}.following': 3443,
      'foo{}{bar}': 8363,
      'foo{{bar}}zap': 4015,
      'foo{bar': 15278,
      ü: 9552,
      'agent.p3~28': 12369,
    };
    for (const [key, slot] of Object.entries(slots)) expect(keySlot(key), key).toBe(slot);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('fleet:{u:alice}:seq')).toBe(keySlot('fleet:{u:alice}:history'));
  });
});
