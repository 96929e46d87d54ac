import { describe, expect, it } from 'vitest';
import { recordedTurnsOf } from './support/backlog.ts';
import { FAST_RECOVERY_ENV, postMessage, settledTurn } from './support/fleet.ts';
import { useSimProcessFleet } from './support/sim-fleet.ts';

/**
 * An outage longer than TURN_OUTAGE_WINDOW_MS (3 s here): the turns waiting it out fail, saying what
 * was away and for how long, the user's later turns are not held behind them, and once the model is
 * back the user's next message is answered.
 */
describe('an outage longer than the window fails turns with the reason; the next turns run', () => {
  const { sim, fleet } = useSimProcessFleet({
    workers: 1,
    env: {
      ...FAST_RECOVERY_ENV,
      LLM_HEALTH_INTERVAL_MS: '200',
      TURN_OUTAGE_WINDOW_MS: '3000',
      LOG_LEVEL: 'warn',
    },
    untilWorkersReady: true,
  });

  it('fails the waiting turns after the window, then answers the next message once a server is back', async () => {
    await sim.kill();
    const first = await postMessage(fleet.gatewayUrl, 'win-a', 'first');
    const second = await postMessage(fleet.gatewayUrl, 'win-a', 'second');
    const started = Date.now();
    const reason =
      /^every LLM server was down for \d+ s, longer than the outage window \(3 s\): no LLM server is healthy/;
    expect(await settledTurn(fleet.gatewayUrl, first.turnId, 15_000)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(reason),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    // The outage has outlasted the window already: the next turn does not wait a window again.
    const failedFirstAt = Date.now();
    expect(await settledTurn(fleet.gatewayUrl, second.turnId, 15_000)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(reason),
    });
    expect(Date.now() - failedFirstAt).toBeLessThan(2000);
    expect(await recordedTurnsOf(fleet.pool, 'win-a')).toEqual([
      { seq: '1', status: 'failed' },
      { seq: '2', status: 'failed' },
    ]);

    await sim.restart();
    const third = await postMessage(fleet.gatewayUrl, 'win-a', 'third');
    expect(await settledTurn(fleet.gatewayUrl, third.turnId, 15_000)).toMatchObject({
      status: 'completed',
      reply: 'Echo [n=2]: third',
    });
  });
});
