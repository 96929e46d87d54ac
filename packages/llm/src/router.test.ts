import { describe, expect, it } from 'vitest';
import { HashRing } from './hash-ring.ts';
import { Router, type ServerView, SPILL_MEMORY } from './router.ts';

const view = (index: number, over: Partial<ServerView> = {}): ServerView => ({
  index,
  inFlight: 0,
  maxInFlight: 100,
  available: true,
  waiting: 0,
  kvUsage: 0,
  ...over,
});

/** The limits every router here runs with: ε = 0.25, hot at 8 waiting or 90% of the KV cache. */
const LIMITS = { loadFactor: 0.25, hotWaiting: 8, hotKvUsage: 0.9 };
const sessionRouter = (ring: HashRing) => new Router({ ...LIMITS, strategy: 'session', ring });

describe('session routing: consistent hashing with bounded loads', () => {
  const ids = ['http://a/v1', 'http://b/v1', 'http://c/v1', 'http://d/v1'];

  it('lists every server once per key and is stable', () => {
    const ring = new HashRing(ids);
    for (let i = 0; i < 100; i++) {
      const order = ring.order(`user-${i}`);
      expect([...order].sort()).toEqual([0, 1, 2, 3]);
      expect(new HashRing(ids).order(`user-${i}`)).toEqual(order);
    }
  });

  it('moves few users when a server is added', () => {
    const before = new HashRing(ids);
    const after = new HashRing([...ids, 'http://e/v1']);
    let moved = 0;
    for (let i = 0; i < 4000; i++) if (before.order(`u${i}`)[0] !== after.order(`u${i}`)[0]) moved++;
    expect(moved / 4000).toBeLessThan(0.3); // ideal 1/5
  });

  it('never lets a server exceed ⌈(1+ε)·average⌉ in flight', () => {
    const router = sessionRouter(new HashRing(ids));
    const servers = ids.map((_, i) => view(i));
    for (let n = 1; n <= 400; n++) {
      const i = router.pick(`hot-user-${n % 3}`, servers); // three heavy users
      servers[i]!.inFlight++;
      const bound = Math.ceil((n / servers.length) * 1.25);
      for (const s of servers) expect(s.inFlight).toBeLessThanOrEqual(bound);
    }
  });

  it('spills past a hot server (long queue or full KV cache)', () => {
    const ring = new HashRing(ids);
    const router = sessionRouter(ring);
    const home = ring.order('alice')[0]!;
    const servers = ids.map((_, i) => view(i, i === home ? { waiting: 20 } : {}));
    expect(router.pick('alice', servers)).not.toBe(home);
    servers[home] = view(home, { kvUsage: 0.95 });
    expect(router.pick('alice', servers)).not.toBe(home);
    servers[home] = view(home);
    expect(router.pick('alice', servers)).toBe(home);
  });

  it('after a spill, starts the user where their history now is, until served at home again', () => {
    const ring = new HashRing(ids);
    const router = sessionRouter(ring);
    const [home, next] = ring.order('alice');
    const servers = ids.map((_, i) => view(i));
    servers[home!] = view(home!, { waiting: 20 }); // hot: alice spills
    const spilledTo = router.pick('alice', servers);
    expect(spilledTo).toBe(next);
    router.served('alice', spilledTo);
    servers[home!] = view(home!);
    expect(router.home('alice', servers)).toBe(spilledTo);
    expect(router.pick('alice', servers)).toBe(spilledTo);
    // Held to the same bounded share as a ring home: over it, alice goes back home.
    servers[spilledTo] = view(spilledTo, { inFlight: 10 });
    expect(router.pick('alice', servers)).toBe(home);
    router.served('alice', home!);
    servers[spilledTo] = view(spilledTo);
    expect(router.pick('alice', servers)).toBe(home);
  });

  it('remembers at most SPILL_MEMORY spilled users, forgetting the oldest first', () => {
    const ring = new HashRing(ids);
    const router = sessionRouter(ring);
    const servers = ids.map((_, i) => view(i));
    const offHome = (key: string) => ring.order(key)[1]!;
    for (let i = 0; i <= SPILL_MEMORY; i++) router.served(`u${i}`, offHome(`u${i}`));
    expect(router.pick('u0', servers)).toBe(ring.order('u0')[0]);
    expect(router.pick('u1', servers)).toBe(offHome('u1'));
    expect(router.pick(`u${SPILL_MEMORY}`, servers)).toBe(offHome(`u${SPILL_MEMORY}`));
  });

  it('returns -1 when no server has a free slot', () => {
    const router = new Router({ ...LIMITS, strategy: 'least-loaded', ring: new HashRing(ids) });
    expect(
      router.pick(
        'x',
        ids.map((_, i) => view(i, { inFlight: 100 })),
      ),
    ).toBe(-1);
    expect(
      router.pick(
        'x',
        ids.map((_, i) => view(i, { available: false })),
      ),
    ).toBe(-1);
  });
});
