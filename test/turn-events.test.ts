import { describe, expect, it } from 'vitest';
import { postMessage, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';
import { readSse } from './support/sse.ts';

describe('turn events over SSE, and cancel, through the gateway', () => {
  const { fleet } = useSimFleet({
    sim: { tokenLatencyMs: 20, rules: [{ match: { user: 'sleepy' }, latencyMs: 4000 }] },
    workers: 1,
    env: { LOG_LEVEL: 'warn' },
    untilWorkersReady: true,
  });

  it('streams a turn live and resumes from Last-Event-ID', async () => {
    const { turnId } = await postMessage(
      fleet.gatewayUrl,
      'reader',
      'tell me about the retention of records',
    );
    const res = await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = await readSse(res);
    expect(events[0]?.event).toBe('status');
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data).toMatchObject({ status: 'completed' });
    const text = events
      .filter((e) => e.event === 'token')
      .map((e) => e.data.text)
      .join('');
    expect(text).toBe(done.data.reply);

    // Resume after the first event: everything after it, nothing before.
    const resumed = await readSse(
      await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}/events`, {
        headers: { 'last-event-id': events[0]!.id! },
      }),
    );
    expect(resumed.map((e) => e.id)).toEqual(events.slice(1).map((e) => e.id));
  });

  it('cancels a running turn over HTTP, refuses to cancel a finished one, and hides unknown turns', async () => {
    const { turnId } = await postMessage(fleet.gatewayUrl, 'sleepy', 'this will take a while');
    await waitFor(
      async () =>
        ((await (await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}`)).json()) as { status: string })
          .status === 'running',
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    const stream = fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}/events`).then(readSse);
    const cancel = await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(202);
    expect(await cancel.json()).toEqual({ turnId, status: 'cancelling' });
    expect((await stream).at(-1)?.data).toMatchObject({ status: 'cancelled' });
    const again = await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('conflict');
    const unknown = await fetch(`${fleet.gatewayUrl}/v1/turns/t_${'0'.repeat(32)}/events`);
    expect(unknown.status).toBe(404);
  });
});
