import type { ServiceHandle } from '@agent-fleet/devstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FAST_RECOVERY_ENV,
  postMessage,
  settledTurn,
  startTestFleet,
  type TestFleet,
} from './support/fleet.ts';
import { freePort, simProcess } from './support/sim-process.ts';

/**
 * An outage longer than TURN_OUTAGE_WINDOW_MS (3 s here): the turns waiting it out fail, saying what
 * was away and for how long, the user's later turns are not held behind them, and once the model is
 * back the user's next message is answered.
 */
describe('an outage longer than the window fails turns with the reason; the next turns run', () => {
  let sim: ServiceHandle;
  let simPort: number;
  let fleet: TestFleet;

  beforeAll(async () => {
    simPort = await freePort();
    sim = simProcess(simPort, 1);
    await sim.ready;
    fleet = await startTestFleet({
      llmUrl: `http://127.0.0.1:${simPort}/v1`,
      workers: 1,
      env: {
        ...FAST_RECOVERY_ENV,
        LLM_HEALTH_INTERVAL_MS: '200',
        TURN_OUTAGE_WINDOW_MS: '3000',
        LOG_LEVEL: 'warn',
      },
    });
    await fleet.workersReady();
  });
  afterAll(async () => {
    await fleet?.stop();
    await sim?.stop();
  });

  it('fails the waiting turns after the window, then answers the next message once a server is back', async () => {
    sim.kill('SIGKILL');
    await sim.exited;
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
    const rows = await fleet.pool.query<{ seq: string; status: string }>(
      'SELECT seq, status FROM turns WHERE user_id = $1 ORDER BY seq',
      ['win-a'],
    );
    expect(rows.rows).toEqual([
      { seq: '1', status: 'failed' },
      { seq: '2', status: 'failed' },
    ]);

    sim = simProcess(simPort, 2);
    await sim.ready;
    const third = await postMessage(fleet.gatewayUrl, 'win-a', 'third');
    expect(await settledTurn(fleet.gatewayUrl, third.turnId, 15_000)).toMatchObject({
      status: 'completed',
      reply: 'Echo [n=2]: third',
    });
  });
});
