import { describe, expect, it } from 'vitest';
import { type FairShare, type Waiter, WaitQueue } from './wait-queue.ts';

/** A queue over `slots` free slots; `started` lists the names of the waiters in the order they got one. */
function harness() {
  const q = new WaitQueue();
  const started: string[] = [];
  /** The shares of the started waiters, in the same order (what the pool charges after a call). */
  const shares: (FairShare | undefined)[] = [];
  let slots = 0;
  const add = (name: string, opts: { priority?: number; fair?: FairShare } = {}) => {
    const w: Waiter = {
      priority: opts.priority ?? 0,
      ...(opts.fair ? { fair: opts.fair } : {}),
      tryStart: () => {
        if (slots === 0) return false;
        slots--;
        started.push(name);
        shares.push(opts.fair);
        return true;
      },
      fail: () => {},
    };
    q.push(w);
    return w;
  };
  const free = (n: number) => {
    slots += n;
    q.pump();
  };
  return { q, add, free, started, shares };
}

const share = (tenant: string, weight = 1, cost = 100): FairShare => ({ tenant, weight, cost });

describe('WaitQueue: priorities, then tenants fairly by tokens', () => {
  it('keeps arrival order within a tenant and for requests of no tenant; interactive before batch', () => {
    const h = harness();
    h.add('batch-1', { priority: 10 });
    h.add('a-1', { fair: share('a') });
    h.add('a-2', { fair: share('a') });
    h.add('plain', {});
    h.free(4);
    expect(h.started).toEqual(['a-1', 'plain', 'a-2', 'batch-1']);
  });

  it('a tenant that arrives behind a backlog goes next, not behind it', () => {
    const h = harness();
    for (let i = 0; i < 100; i++) h.add(`a-${i}`, { fair: share('a') });
    h.free(10);
    h.add('b-0', { fair: share('b') });
    h.free(2);
    expect(h.started.slice(10)).toEqual(['b-0', 'a-10']);
    expect(h.q.size).toBe(89);
  });

  it('shares freed slots by weight, in tokens, while tenants have backlogs', () => {
    const h = harness();
    for (let i = 0; i < 200; i++) {
      h.add(`heavy-${i}`, { fair: share('heavy', 3) });
      h.add(`light-${i}`, { fair: share('light', 1) });
      h.add(`big-${i}`, { fair: share('big', 1, 200) });
    }
    h.free(100);
    const count = (prefix: string) => h.started.filter((n) => n.startsWith(prefix)).length;
    // Tokens in proportion 3:1:1; `big` asks twice the tokens per request: requests 6:2:1.
    expect([count('heavy'), count('light'), count('big')]).toEqual([67, 22, 11]);
  });

  it('shares by the tokens calls really used once they are charged', () => {
    const h = harness();
    // Each tenant's users wait for one call at a time; every call is estimated at 100 tokens, but
    // each of a's used 300 (b's 100): charged, a gets a third of b's calls.
    for (let i = 0; i < 5; i++) {
      h.add('a', { fair: share('a') });
      h.add('b', { fair: share('b') });
    }
    for (let i = 0; i < 400; i++) {
      h.free(1);
      const tenant = h.started.at(-1)!;
      h.q.charge(0, h.shares.at(-1)!, tenant === 'a' ? 300 : 100);
      h.add(tenant, { fair: share(tenant) });
    }
    const a = h.started.filter((n) => n === 'a').length;
    const b = h.started.filter((n) => n === 'b').length;
    expect(b / a).toBeGreaterThan(2.8);
    expect(b / a).toBeLessThan(3.2);
  });

  it('spaces a backlog queued at once by what its calls use, as they are charged', () => {
    const h = harness();
    // Every call is estimated at 100 tokens and uses 300, and both tenants queue a backlog at once,
    // before any call was charged. Calls are tagged as they get a slot, so the charges space each
    // backlog by 300 a call from the first call on: weights 3:1 get calls 3:1 throughout (tags
    // given on arrival would keep the first 30 of each at 100, and a short of its share).
    for (let i = 0; i < 30; i++) {
      h.add('a', { fair: share('a', 3) });
      h.add('b', { fair: share('b', 1) });
    }
    for (let i = 0; i < 80; i++) {
      h.free(1);
      const tenant = h.started.at(-1)!;
      h.q.charge(0, h.shares.at(-1)!, 300);
      h.add(tenant, { fair: share(tenant, tenant === 'a' ? 3 : 1) });
      if (i === 19) expect(h.started.filter((n) => n === 'a').length).toBe(15);
    }
    expect(h.started.filter((n) => n === 'a').length).toBe(60);
  });

  it('learns what a tenant’s calls use beyond their estimates for the calls it tags next', () => {
    const h = harness();
    // a's calls are estimated at 100 and use 400, b's at 100 and use 100: once each was charged
    // for one call, a's next ones are tagged at 400, so b (equal weight) gets four calls to a's one.
    h.add('a', { fair: share('a') });
    h.add('b', { fair: share('b') });
    h.free(2);
    h.q.charge(0, h.shares[0]!, 400);
    h.q.charge(0, h.shares[1]!, 100);
    for (let i = 0; i < 20; i++) {
      h.add(`a-${i}`, { fair: share('a') });
      h.add(`b-${i}`, { fair: share('b') });
    }
    h.free(10);
    const served = h.started.slice(2);
    expect(served.filter((n) => n.startsWith('b')).length).toBe(8);
  });

  it("counts a call that got its slot at once in its tenant's share", () => {
    const h = harness();
    const passing = { priority: 0, fair: share('a'), tryStart: () => true, fail: () => {} };
    // a's first three calls found free slots; then a and b both queue, a first.
    for (let i = 0; i < 3; i++) h.q.passed(passing);
    h.add('a-3', { fair: share('a') });
    h.add('b-0', { fair: share('b') });
    h.free(1);
    expect(h.started).toEqual(['b-0']);
  });

  it('forgets removed waiters', () => {
    const h = harness();
    const gone = h.add('a-0', { fair: share('a') });
    h.add('a-1', { fair: share('a') });
    expect(h.q.remove(gone)).toBe(true);
    expect(h.q.remove(gone)).toBe(false);
    h.free(5);
    expect(h.started).toEqual(['a-1']);
    expect(h.q.size).toBe(0);
  });
});
