import { TurnControl, TurnEvents } from '@agent-fleet/turns';
import { beforeAll, describe, expect, it } from 'vitest';
import { recordedTurnsOf } from './support/backlog.ts';
import { getTurn, postMessage, settledTurn, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

describe('cancelling turns (real processes)', () => {
  const { sim, fleet } = useSimFleet({
    sim: { rules: [{ match: { user: 'slowpoke' }, latencyMs: 5000 }] },
    workers: 1,
    env: { LOG_LEVEL: 'warn' },
    untilWorkersReady: true,
  });
  let control: TurnControl;

  beforeAll(async () => {
    control = new TurnControl({ redis: fleet.redis, namespace: fleet.namespace });
  });

  const turn = (turnId: string) => getTurn(fleet.gatewayUrl, turnId);
  const settled = (turnId: string) => settledTurn(fleet.gatewayUrl, turnId);

  it('stops a running turn at once, mid model call, and lets the next turn of the user run', async () => {
    const first = await postMessage(fleet.gatewayUrl, 'slowpoke', 'a question that takes long');
    const second = await postMessage(fleet.gatewayUrl, 'slowpoke', 'a follow-up');
    await waitFor(async () => (await turn(first.turnId)).status === 'running', {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    const asked = Date.now();
    await control.requestCancel('slowpoke', first.turnId);
    expect(await settled(first.turnId)).toMatchObject({ status: 'cancelled', error: 'cancelled by request' });
    expect(Date.now() - asked).toBeLessThan(2000); // not waiting out the 5 s model call
    expect((await settled(second.turnId)).status).toBe('completed');
    expect(await recordedTurnsOf(fleet.pool, 'slowpoke')).toEqual([
      { seq: '1', status: 'cancelled' },
      { seq: '2', status: 'completed' },
    ]);
    const events = await new TurnEvents({ redis: fleet.redis, namespace: fleet.namespace }).read(
      'slowpoke',
      first.turnId,
      '0',
    );
    expect(events.at(-1)?.event).toMatchObject({ type: 'done', status: 'cancelled' });
  });

  it('cancels a queued turn before it starts, without calling the model', async () => {
    await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/stats/reset`, { method: 'POST' });
    const running = await postMessage(fleet.gatewayUrl, 'slowpoke', 'keeps the user busy');
    const queued = await postMessage(fleet.gatewayUrl, 'slowpoke', 'never mind this one');
    await control.requestCancel('slowpoke', queued.turnId);
    expect((await settled(running.turnId)).status).toBe('completed');
    expect((await settled(queued.turnId)).status).toBe('cancelled');
    const stats = (await (await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/stats`)).json()) as {
      byUser: Record<string, number>;
    };
    expect(stats.byUser.slowpoke).toBe(1);
  });
});
