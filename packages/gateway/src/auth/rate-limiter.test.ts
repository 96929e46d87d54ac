import { describe, expect, it } from 'vitest';
import { onFreshNamespace } from '../../../../test/support/redis.ts';
import { freshNamespace } from '../../../../test/support/stack.ts';
import { RateLimiter, rateLimitKey } from './rate-limiter.ts';

describe('GCRA rate limiter (real Redis)', () => {
  const t = onFreshNamespace((place) => ({ limiter: new RateLimiter(place) }));

  it('lets a burst through, then refuses with the time until the next request may pass', async () => {
    const limit = { perSecond: 10, burst: 3 };
    const taken: Awaited<ReturnType<RateLimiter['take']>>[] = [];
    for (let i = 0; i < 4; i++) taken.push(await t.limiter.take('user', 'ann', limit));
    expect(taken.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(taken.map((d) => d.remaining)).toEqual([2, 1, 0, 0]);
    expect(taken[3]!.retryAfterMs).toBeGreaterThan(50);
    expect(taken[3]!.retryAfterMs).toBeLessThanOrEqual(100);
    await new Promise((r) => setTimeout(r, taken[3]!.retryAfterMs + 5));
    expect((await t.limiter.take('user', 'ann', limit)).allowed).toBe(true);
    expect((await t.limiter.take('user', 'ann', limit)).allowed).toBe(false);
  });

  it('keeps users, keys and namespaces apart, and lets its key expire once the bucket is full again', async () => {
    const limit = { perSecond: 5, burst: 1 };
    expect((await t.limiter.take('user', 'ann', limit)).allowed).toBe(true);
    expect((await t.limiter.take('user', 'ann', limit)).allowed).toBe(false);
    expect((await t.limiter.take('user', 'bob', limit)).allowed).toBe(true);
    expect((await t.limiter.take('key', 'ann', limit)).allowed).toBe(true);
    expect(
      (await new RateLimiter({ redis: t.redis, namespace: freshNamespace() }).take('user', 'ann', limit))
        .allowed,
    ).toBe(true);
    const ttl = await t.redis.pttl(rateLimitKey(t.namespace, 'user', 'ann'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(200);
  });

  it('sustains the configured rate over time', async () => {
    const limit = { perSecond: 50, burst: 1 };
    const start = Date.now();
    let passed = 0;
    while (Date.now() - start < 500) {
      if ((await t.limiter.take('key', 'k', limit)).allowed) passed++;
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(passed).toBeGreaterThanOrEqual(10); // lenient: a loaded machine polls less often
    expect(passed).toBeLessThanOrEqual(27);
  });

  it('gives back what a refund returns, never more than a full bucket', async () => {
    const limit = { perSecond: 0.01, burst: 3 };
    for (let i = 0; i < 3; i++)
      expect((await t.limiter.take('login-ip', '192.0.2.1', limit)).allowed).toBe(true);
    expect((await t.limiter.take('login-ip', '192.0.2.1', limit)).allowed).toBe(false);
    await t.limiter.refund('login-ip', '192.0.2.1', limit);
    expect((await t.limiter.take('login-ip', '192.0.2.1', limit)).allowed).toBe(true);
    expect((await t.limiter.take('login-ip', '192.0.2.1', limit)).allowed).toBe(false);
    // Refunding more than was taken leaves a full bucket (its key gone), not a bigger one.
    await t.limiter.refund('login-ip', '192.0.2.1', limit, 10);
    expect(await t.redis.exists(rateLimitKey(t.namespace, 'login-ip', '192.0.2.1'))).toBe(0);
    const again: boolean[] = [];
    for (let i = 0; i < 4; i++) again.push((await t.limiter.take('login-ip', '192.0.2.1', limit)).allowed);
    expect(again).toEqual([true, true, true, false]);
  });

  it('is off at 0 per second and never touches Redis', async () => {
    for (let i = 0; i < 5; i++)
      expect((await t.limiter.take('user', 'ann', { perSecond: 0, burst: 1 })).allowed).toBe(true);
    expect(await t.redis.exists(rateLimitKey(t.namespace, 'user', 'ann'))).toBe(0);
  });

  it('puts every limit in a hash slot of its own', () => {
    expect(rateLimitKey('fleet', 'user', 'ann')).toBe('fleet:{rl:user:ann}');
  });
});
