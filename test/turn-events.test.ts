import { startSim } from '@agent-fleet/llm-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMessage, startTestFleet, type TestFleet, waitFor } from './support/fleet.ts';

interface Sse {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** Read a Server-Sent Events response until the `done` event (or the stream ends). */
async function readSse(res: Response): Promise<Sse[]> {
  const out: Sse[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((l) => !l.startsWith(':') && l.includes(': '))
          .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
      );
      if (!fields.data) continue;
      out.push({
        ...(fields.id ? { id: fields.id } : {}),
        event: fields.event ?? 'message',
        data: JSON.parse(fields.data),
      });
      if (fields.event === 'done') return out;
    }
  }
  return out;
}

describe('turn events over SSE, and cancel, through the gateway', () => {
  let sim: Awaited<ReturnType<typeof startSim>>;
  let fleet: TestFleet;

  beforeAll(async () => {
    sim = await startSim({
      engine: { timeScale: 0 },
      tokenLatencyMs: 20,
      rules: [{ match: { user: 'sleepy' }, latencyMs: 4000 }],
    });
    fleet = await startTestFleet({ llmUrl: sim.url, workers: 1, env: { LOG_LEVEL: 'warn' } });
    await fleet.workersReady();
  });
  afterAll(async () => {
    await fleet?.stop();
    await sim?.close();
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
