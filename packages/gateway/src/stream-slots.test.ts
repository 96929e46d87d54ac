import { describe, expect, it } from 'vitest';
import type { Principal } from './auth/principal.ts';
import { StreamSlots } from './stream-slots.ts';

const user = (id: string): Principal => ({ kind: 'user', id, userId: id, scopes: ['turns:read'] });
const key = (id: string): Principal => ({
  kind: 'key',
  id,
  name: id,
  scopes: ['turns:read'],
  actAsUsers: true,
});

describe('StreamSlots', () => {
  it('gives each principal its own slots, refuses past the cap, and takes a slot back once', () => {
    const slots = new StreamSlots({ perPrincipal: 2 });
    const a = slots.take(user('ann'));
    const b = slots.take(user('ann'));
    expect(() => slots.take(user('ann'))).toThrow(
      expect.objectContaining({
        code: 'rate_limited',
        status: 429,
        details: { reason: 'streams', limit: 2 },
      }),
    );
    // A key and a user of the same id are different principals.
    const k = slots.take(key('ann'));
    expect(slots.open).toBe(3);
    a.release();
    a.release();
    expect(slots.open).toBe(2);
    const c = slots.take(user('ann'));
    expect(() => slots.take(user('ann'))).toThrow(/2 event streams open/);
    for (const slot of [b, c, k]) slot.release();
    expect(slots.open).toBe(0);
    expect(b.signal.aborted).toBe(false);
    slots.endAll();
    expect([b.signal.aborted, slots.take(user('ann')).signal.aborted]).toEqual([true, true]);
  });
});
