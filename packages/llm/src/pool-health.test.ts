import { FleetError } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import type { LlmPool } from './pool.ts';
import { ask, configure, kill, requestsSeen, simFixtures } from './testing/sim-fixtures.ts';
import type { PoolHealth, PoolWaitEvent } from './types.ts';

const { sim, pool } = simFixtures();

/** Resolves with the pool's health once `healthy` servers are healthy (told by onHealthChange). */
function healthReaches(p: LlmPool, healthy: number): Promise<PoolHealth> {
  return new Promise((resolve) => {
    if (p.health().healthy === healthy) return resolve(p.health());
    const off = p.onHealthChange((h) => {
      if (h.healthy !== healthy) return;
      off();
      resolve(h);
    });
  });
}

async function failure(p: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const started = performance.now();
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, ms: performance.now() - started };
}

const noHealthyServer = {
  code: 'unavailable',
  isRetryable: true,
  details: { reason: 'no_healthy_llm_server' },
};

describe('LlmPool when LLM servers go away', () => {
  it('fails fast with a retryable unavailable when every server is down, for chat, streams and embeddings', async () => {
    const servers = [await sim(), await sim()];
    const p = pool(servers, { healthIntervalMs: 100 });
    expect((await p.chat(ask('alice'))).content).toBe('Echo [n=1]: hello');
    await Promise.all(servers.map((s) => s.close()));
    const down = await healthReaches(p, 0);
    expect(down).toMatchObject({ healthy: 0, total: 2 });
    expect(down.servers.map((s) => [s.circuit, s.healthCheckOk])).toEqual([
      ['open', false],
      ['open', false],
    ]);

    const chat = await failure(p.chat(ask('alice')));
    expect(chat.err).toBeInstanceOf(FleetError);
    expect(chat.err).toMatchObject(noHealthyServer);
    expect((chat.err as Error).message).toMatch(/no LLM server is healthy/);
    expect(chat.ms).toBeLessThan(100); // not the 120 s queue timeout, not even one connection attempt
    const stream = async () => {
      for await (const _ of p.chatStream(ask('alice'))) {
      }
    };
    expect((await failure(stream())).err).toMatchObject(noHealthyServer);
    expect((await failure(p.embed({ userId: 'x', input: ['a'] }))).err).toMatchObject(noHealthyServer);
  });

  it('opens every circuit from failing requests alone, then fails fast without sending anything', async () => {
    const servers = [await sim({ errorRate: 1 }), await sim({ errorRate: 1 })];
    const p = pool(servers, { breakerFailureThreshold: 2, breakerCooldownMs: 60_000, maxAttempts: 2 });
    for (let i = 0; i < 2; i++) await p.chat(ask(`u${i}`)).catch(() => {});
    expect(p.health().healthy).toBe(0);
    const seen = (await requestsSeen(servers[0]!)) + (await requestsSeen(servers[1]!));
    const { err, ms } = await failure(p.chat(ask('late')));
    expect(err).toMatchObject(noHealthyServer);
    expect((err as FleetError).details?.retryAfterMs).toBeGreaterThan(50_000);
    expect(ms).toBeLessThan(100);
    expect((await requestsSeen(servers[0]!)) + (await requestsSeen(servers[1]!))).toBe(seen);
  });

  it('rejects a request queued for a slot the moment the last circuit opens', async () => {
    const s = await sim({ rules: [{ match: { user: 'holder' }, latencyMs: 1000 }] });
    const p = pool([s], { maxInFlightPerServer: 1, breakerFailureThreshold: 1, maxAttempts: 1 });
    const holder = failure(p.chat(ask('holder')));
    const events: PoolWaitEvent[] = [];
    let markQueued = () => {};
    const queued = new Promise<void>((resolve) => {
      markQueued = resolve;
    });
    const waiter = failure(
      p.chat({
        ...ask('waiter'),
        onWait: (e) => {
          events.push(e);
          if (e.type === 'queued') markQueued();
        },
      }),
    );
    await queued;
    expect(p.health().waiting).toBe(1);
    const killedAt = performance.now();
    await kill(s); // the holder's connection is cut: its failure opens the only circuit
    expect((await holder).err).toBeInstanceOf(FleetError);
    expect((await waiter).err).toMatchObject(noHealthyServer);
    expect(performance.now() - killedAt).toBeLessThan(1000); // not its 120 s queue timeout
    expect(events.map((e) => e.type)).toEqual(['queued']); // never admitted, never sent
    expect(p.health().waiting).toBe(0);
  });

  it('recovers when a server comes back: a passed health check lets one probe through, then traffic flows', async () => {
    const first = await sim();
    const port = first.port;
    const p = pool([first], { breakerCooldownMs: 60_000 });
    const changes: number[] = [];
    p.onHealthChange((h) => changes.push(h.healthy));
    await first.close();
    await p.checkHealth();
    expect(p.health()).toMatchObject({ healthy: 0, servers: [{ circuit: 'open', healthCheckOk: false }] });
    expect((await failure(p.chat(ask('a')))).err).toMatchObject(noHealthyServer);

    await sim({ port }); // the same server, restarted
    await p.checkHealth();
    expect(p.health()).toMatchObject({
      healthy: 1,
      servers: [{ circuit: 'half-open', healthCheckOk: true }],
    });
    const answers = await Promise.all([p.chat(ask('a')), p.chat(ask('b')), p.chat(ask('c'))]);
    expect(answers.map((a) => a.content)).toEqual([
      'Echo [n=1]: hello',
      'Echo [n=1]: hello',
      'Echo [n=1]: hello',
    ]);
    expect(p.health().servers[0]!.circuit).toBe('closed');
    expect(changes).toEqual([0, 1]);
  });

  it('half-open: while one request probes, the others wait for its outcome; a failed probe rejects them', async () => {
    const s = await sim({ errorRate: 1, rules: [{ match: { user: 'probe' }, latencyMs: 300 }] });
    const p = pool([s], { breakerFailureThreshold: 1, breakerCooldownMs: 100, maxAttempts: 1 });
    await p.chat(ask('first')).catch(() => {});
    expect(p.health().servers[0]!.circuit).toBe('open');
    await new Promise((r) => setTimeout(r, 120));
    expect(p.health().servers[0]!.circuit).toBe('half-open');
    const probe = failure(p.chat(ask('probe')));
    const queuedEvents: PoolWaitEvent[] = [];
    const behind = failure(p.chat({ ...ask('behind'), onWait: (e) => queuedEvents.push(e) }));
    expect(queuedEvents.map((e) => e.type)).toEqual(['queued']);
    const seenBefore = await requestsSeen(s);
    expect((await probe).err).toMatchObject({ code: 'upstream_error' });
    expect((await behind).err).toMatchObject(noHealthyServer);
    expect(await requestsSeen(s)).toBe(seenBefore); // only the probe went out
    await configure(s, { errorRate: 0 });
  });

  it('tells onWait observers when a request queues for a slot and when it gets one', async () => {
    const s = await sim({ latencyMs: 150 });
    const p = pool([s], { maxInFlightPerServer: 1 });
    const events: PoolWaitEvent[] = [];
    const first = p.chat(ask('a'));
    const second = p.chat({ ...ask('b'), onWait: (e) => events.push(e) });
    await Promise.all([first, second]);
    expect(events).toEqual([
      { type: 'queued', attempt: 1, waiting: 1 },
      { type: 'admitted', attempt: 1, waitedMs: expect.any(Number), server: s.url },
    ]);
    expect((events[1] as { waitedMs: number }).waitedMs).toBeGreaterThan(100);
  });

  it('an observer that throws does not break the call', async () => {
    const servers = [await sim({ errorRate: 1 }), await sim()];
    const p = pool(servers, { routing: 'round-robin' });
    const res = await p.chat({
      ...ask('a'),
      onWait: () => {
        throw new Error('observer bug');
      },
    });
    expect(res.content).toBe('Echo [n=1]: hello');
  });
});
