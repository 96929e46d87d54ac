import { TurnEvents } from '@agent-fleet/turns';
import { beforeAll, describe, expect, it } from 'vitest';
import { partitionJobs } from './support/backlog.ts';
import { FAST_RECOVERY_ENV, getTurn, postMessage, settledTurn, waitFor } from './support/fleet.ts';
import { useSimProcessFleet } from './support/sim-fleet.ts';

const OUTAGE_MS = 15_000;

/**
 * Every LLM server is down for 15 s (the simulator process SIGKILLed, then started again on its
 * port). The pool fails fast; turns wait instead of using their attempts, their event streams say
 * they wait on the model, a cancelled one ends at once, and the others complete once a server is
 * back, in order.
 */
describe('every LLM server down for 15 s: turns wait, say so, and complete after', () => {
  const { sim, fleet } = useSimProcessFleet({
    workers: 1,
    env: { ...FAST_RECOVERY_ENV, LLM_HEALTH_INTERVAL_MS: '200', LOG_LEVEL: 'warn' },
    untilWorkersReady: true,
  });
  let events: TurnEvents;
  beforeAll(() => {
    events = new TurnEvents({ redis: fleet.redis, namespace: fleet.namespace });
  });

  const eventsOf = async (userId: string, turnId: string) =>
    (await events.read(userId, turnId, '0')).map((e) => e.event);
  const waitingOnLlm = async (userId: string, turnId: string) =>
    (await eventsOf(userId, turnId)).some(
      (e) => e.type === 'status' && e.status === 'waiting' && e.reason === 'llm' && (e.retryInMs ?? 0) > 0,
    );

  it('turns wait with `waiting` events, a waiting turn can be cancelled, the rest complete after', async () => {
    const warm = await postMessage(fleet.gatewayUrl, 'llm-warm', 'are you there?');
    expect((await settledTurn(fleet.gatewayUrl, warm.turnId)).status).toBe('completed');

    await sim.kill();
    const downAt = Date.now();
    const users = ['llm-a', 'llm-b', 'llm-c', 'llm-d'];
    const turns = new Map<string, { turnId: string }[]>();
    for (const u of users)
      turns.set(u, [
        await postMessage(fleet.gatewayUrl, u, `${u} first`),
        await postMessage(fleet.gatewayUrl, u, `${u} second`),
      ]);
    const firstOf = (u: string) => turns.get(u)![0]!.turnId;
    await waitFor(
      async () => (await Promise.all(users.map((u) => waitingOnLlm(u, firstOf(u))))).every(Boolean),
      {
        timeoutMs: 10_000,
        intervalMs: 100,
        describe: async () => JSON.stringify(await eventsOf(users[0]!, firstOf(users[0]!))),
      },
    );
    for (const u of users) expect((await getTurn(fleet.gatewayUrl, firstOf(u))).status).toBe('running');

    // Cancel one waiting turn: it ends at once, and that user's next turn waits like the others.
    const cancelledAt = Date.now();
    const res = await fetch(`${fleet.gatewayUrl}/v1/turns/${firstOf('llm-d')}/cancel`, { method: 'POST' });
    expect(res.status).toBe(202);
    expect(await settledTurn(fleet.gatewayUrl, firstOf('llm-d'), 5000)).toMatchObject({
      status: 'cancelled',
      error: 'cancelled by request',
    });
    expect(Date.now() - cancelledAt).toBeLessThan(2000);

    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    for (const u of users.slice(0, 3))
      expect((await getTurn(fleet.gatewayUrl, firstOf(u))).status).toBe('running');
    await sim.restart();
    const backAt = Date.now();

    for (const u of users) {
      const [first, second] = turns.get(u)!;
      if (u !== 'llm-d')
        expect(await settledTurn(fleet.gatewayUrl, first!.turnId, 15_000)).toMatchObject({
          status: 'completed',
          reply: `Echo [n=2]: ${u} first`,
        });
      expect(await settledTurn(fleet.gatewayUrl, second!.turnId, 15_000)).toMatchObject({
        status: 'completed',
        reply: u === 'llm-d' ? `Echo [n=2]: ${u} second` : `Echo [n=4]: ${u} second`,
      });
    }
    process.stdout.write(
      `llm outage: every turn ended ${Date.now() - backAt} ms after the simulator was back\n`,
    );
    expect(Date.now() - backAt).toBeLessThan(10_000);

    const stream = await eventsOf('llm-a', firstOf('llm-a'));
    expect(stream[0]).toEqual({ type: 'status', status: 'running', attempt: 1 });
    expect(stream.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
    const jobs = await partitionJobs(fleet.redis, fleet.namespace);
    expect(jobs.filter((j) => j.state !== 'completed' || j.attemptsMade !== 1)).toEqual([]);
  });
});
