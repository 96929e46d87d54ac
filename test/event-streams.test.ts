import { createLogger, loadConfig } from '@agent-fleet/core';
import { buildGateway, createGatewayDeps } from '@agent-fleet/gateway';
import { ApiKeyStore } from '@agent-fleet/state';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { mapLimit, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

interface Sse {
  id?: string;
  event: string;
  data: string;
}

/** An SSE response read as it comes; `closed` resolves once the server ends it. */
interface OpenStream {
  status: number;
  body: unknown;
  events: Sse[];
  closed: Promise<void>;
  /** Disconnects, as a client that goes away does. */
  abort(): void;
}

async function openStream(url: string, init: RequestInit = {}): Promise<OpenStream> {
  const controller = new AbortController();
  const res = await fetch(url, { ...init, signal: controller.signal });
  const events: Sse[] = [];
  if (res.status !== 200)
    return { status: res.status, body: await res.json(), events, closed: Promise.resolve(), abort: () => {} };
  const closed = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const fields = Object.fromEntries(
            buffer
              .slice(0, end)
              .split('\n')
              .filter((l) => !l.startsWith(':') && l.includes(': '))
              .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
          );
          buffer = buffer.slice(end + 2);
          if (fields.data !== undefined)
            events.push({
              ...(fields.id ? { id: fields.id } : {}),
              event: fields.event ?? 'message',
              data: fields.data,
            });
        }
      }
    } catch {
      // aborted by the test
    }
  })();
  return { status: 200, body: null, events, closed, abort: () => controller.abort() };
}

/**
 * Event streams share one blocking Redis reader per gateway, let go of it the moment their client
 * leaves, and are capped per principal (real gateway and worker processes).
 */
describe('event streams: shared reader, released at once, capped per principal', () => {
  const { fleet } = useSimFleet({
    sim: { tokenLatencyMs: 5 },
    workers: 0,
    env: { AUTH_MODE: 'required', LOG_LEVEL: 'warn', MAX_STREAMS_PER_PRINCIPAL: '64' },
  });
  let capped: string;
  let key: string;
  let other: string;
  const auth = (k: string) => ({ authorization: `Bearer ${k}` });

  beforeAll(async () => {
    // No worker yet: turns stay queued, so their streams stay open.
    capped = await fleet.addGateway({ MAX_STREAMS_PER_PRINCIPAL: '2' });
    const store = new ApiKeyStore({ pool: fleet.pool });
    const create = async (name: string) =>
      (await store.create({ name, scopes: ['messages:write', 'turns:read'], actAsUsers: true })).key;
    key = await create('streams');
    other = await create('other');
  });

  const post = async (userId: string, text: string) => {
    const res = await fetch(`${fleet.gatewayUrl}/v1/users/${userId}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth(key) },
      body: JSON.stringify({ text }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { turnId: string }).turnId;
  };
  /** Connections of the gateways of this fleet (they are named after the namespace). */
  const gatewayConnections = async () =>
    ((await fleet.redis.client('LIST')) as string)
      .split('\n')
      .filter((l) => l.includes(` name=${fleet.namespace}:gateway`)).length;
  const metric = async (gateway: string, name: string) => {
    const text = await (await fetch(`${gateway}/metrics`)).text();
    return Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
  };

  it('50 concurrent streams share the gateway’s one reader connection, and each gets its events in order', async () => {
    const idle = await gatewayConnections();
    expect(idle).toBeGreaterThan(0);
    const turns = await mapLimit(
      Array.from({ length: 50 }, (_, i) => `es-${i}`),
      10,
      (u) => post(u, `question from ${u}`),
    );
    const streams = await Promise.all(
      turns.map((t) => openStream(`${fleet.gatewayUrl}/v1/turns/${t}/events`, { headers: auth(key) })),
    );
    expect(streams.map((s) => s.status)).toEqual(turns.map(() => 200));
    await waitFor(
      async () => (await metric(fleet.gatewayUrl, 'fleet_gateway_event_streams_followed')) === 50,
      {
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    );
    expect(await metric(fleet.gatewayUrl, 'fleet_gateway_event_streams')).toBe(50);
    // Before, each stream held a connection of its own: 50 more.
    expect(await gatewayConnections()).toBe(idle);

    fleet.addWorker();
    await fleet.workersReady();
    await Promise.all(streams.map((s) => s.closed));
    for (const s of streams) {
      const types = s.events.map((e) => e.event);
      expect(types[0]).toBe('status');
      expect(types.at(-1)).toBe('done');
      const ids = s.events.map((e) => e.id!);
      expect(ids).toEqual(
        [...ids].sort(
          (a, b) =>
            Number(a.split('-')[0]) - Number(b.split('-')[0]) ||
            Number(a.split('-')[1]) - Number(b.split('-')[1]),
        ),
      );
      const done = JSON.parse(s.events.at(-1)!.data) as { status: string; reply: string };
      expect(done.status).toBe('completed');
      const text = s.events
        .filter((e) => e.event === 'token')
        .map((e) => (JSON.parse(e.data) as { text: string }).text);
      expect(text.join('')).toBe(done.reply);
    }
    expect(await metric(fleet.gatewayUrl, 'fleet_gateway_event_streams_followed')).toBe(0);
  });

  it('lets go of a disconnected client’s stream at once', async () => {
    await fleet.workers[0]!.stop(5000);
    const turnId = await post('es-gone', 'nobody will read the answer');
    const stream = await openStream(`${fleet.gatewayUrl}/v1/turns/${turnId}/events`, { headers: auth(key) });
    await waitFor(
      async () => (await metric(fleet.gatewayUrl, 'fleet_gateway_event_streams_followed')) === 1,
      {
        timeoutMs: 5000,
        intervalMs: 20,
      },
    );
    const left = Date.now();
    stream.abort();
    await waitFor(
      async () =>
        (await metric(fleet.gatewayUrl, 'fleet_gateway_event_streams_followed')) === 0 &&
        (await metric(fleet.gatewayUrl, 'fleet_gateway_event_streams')) === 0,
      { timeoutMs: 5000, intervalMs: 10 },
    );
    // Before, the reader stayed until the next event or keep-alive (15 s).
    expect(Date.now() - left).toBeLessThan(500);
  });

  it('answers 429 past MAX_STREAMS_PER_PRINCIPAL, OpenAI-shaped on chat completions, and frees a slot at once', async () => {
    const turnId = await post('es-capped', 'a queued question');
    const url = `${capped}/v1/turns/${turnId}/events`;
    const [a, b] = [
      await openStream(url, { headers: auth(key) }),
      await openStream(url, { headers: auth(key) }),
    ];
    expect([a.status, b.status]).toEqual([200, 200]);
    const third = await openStream(url, { headers: auth(key) });
    expect(third.status).toBe(429);
    expect(third.body).toEqual({
      error: {
        code: 'rate_limited',
        message: expect.stringMatching(/2 event streams open on this gateway/),
        details: { reason: 'streams', limit: 2 },
      },
    });
    // Another principal has slots of its own.
    const others = await openStream(url, { headers: auth(other) });
    expect(others.status).toBe(200);

    const openai = new OpenAI({ apiKey: key, baseURL: `${capped}/v1`, maxRetries: 0 });
    const refused = await openai.chat.completions
      .create({
        model: 'fleet-agent',
        user: 'es-chat',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect(refused).toMatchObject({ status: 429, error: { type: 'rate_limit_error', code: 'rate_limited' } });
    // A refused stream is no turn.
    const rows = await fleet.pool.query("SELECT count(*)::int AS n FROM turns WHERE user_id = 'es-chat'");
    const queued = await fleet.redis.exists(`${fleet.namespace}:{u:es-chat}:seq`);
    expect([rows.rows[0].n, queued]).toEqual([0, 0]);

    a.abort();
    await waitFor(async () => (await metric(capped, 'fleet_gateway_event_streams')) === 2, {
      timeoutMs: 2000,
      intervalMs: 10,
    });
    const again = await openStream(url, { headers: auth(key) });
    expect(again.status).toBe(200);
    for (const s of [b, others, again]) s.abort();
  });

  it('ends open streams when the gateway shuts down, instead of being held open by them', async () => {
    const deps = await createGatewayDeps(loadConfig(fleet.env), createLogger('test', 'silent'));
    const app = await buildGateway(deps);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const turnId = await post('es-shutdown', 'still queued');
    const stream = await openStream(`${url}/v1/turns/${turnId}/events`, { headers: auth(key) });
    expect(stream.status).toBe(200);
    const closing = Date.now();
    const closed = app.close();
    await stream.closed;
    await closed;
    expect(Date.now() - closing).toBeLessThan(2000);
    await deps.close();
  });
});
