import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CollectedSpan, type OtlpCollector, startOtlpCollector } from '@agent-fleet/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_RECOVERY_ENV, settledTurn } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

const root = fileURLToPath(new URL('../', import.meta.url));

/** OTLP span kinds. */
const KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };

/**
 * Traces on real processes: a gateway and workers export OTLP/HTTP JSON to a collector this test
 * runs, and every span of a turn (the request, the accept, each delivery, its stages and its model
 * calls) lands in one trace, across processes and across a worker SIGKILLed mid-turn.
 */
describe('traces: one trace per turn, from the HTTP request to each model call', () => {
  let collector: OtlpCollector;
  afterAll(async () => {
    await collector?.close();
  });
  const { sim, fleet } = useSimFleet({
    sim: { mode: 'script' },
    workers: 0,
    env: async () => {
      collector = await startOtlpCollector();
      return {
        ...FAST_RECOVERY_ENV,
        LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '50',
      };
    },
  });
  const admin = () => sim.url.replace(/\/v1$/, '');
  const json = { 'content-type': 'application/json' };
  const send = async (path: string, body: unknown, method = 'PUT', headers: Record<string, string> = {}) =>
    fetch(`${fleet.gatewayUrl}${path}`, {
      method,
      headers: { ...json, ...headers },
      body: JSON.stringify(body),
    });
  const simAdmin = async (path: string, body: unknown) =>
    expect(
      (await fetch(`${admin()}${path}`, { method: 'PUT', headers: json, body: JSON.stringify(body) })).status,
    ).toBe(200);

  beforeAll(async () => {
    for (const user of ['tracer', 'crashed', 'parker'])
      expect((await send(`/v1/users/${user}/profile`, { tenant: 'acme', groups: ['staff'] })).status).toBe(
        200,
      );
    const doc = { docId: 'retention', title: 'Retention', tenant: 'acme', acl: [], public: true };
    const text = '# Retention\n\nCustomer due diligence records are kept for seven years.';
    expect((await send('/v1/documents', { ...doc, text }, 'POST')).status).toBe(201);
  });

  const inTrace = (traceId: string) => collector.spans.filter((s) => s.traceId === traceId);
  const named = (spans: CollectedSpan[], name: string) => spans.filter((s) => s.name === name);
  const one = (spans: CollectedSpan[], name: string) => {
    const found = named(spans, name);
    expect(found, name).toHaveLength(1);
    return found[0]!;
  };
  const workerLogLines = () => {
    const dir = join(root, '.fleet', 'test-logs', fleet.namespace);
    return readdirSync(dir)
      .filter((f) => f.startsWith('worker-'))
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  const byStart = (spans: CollectedSpan[]) => [...spans].sort((a, b) => (a.startNs < b.startNs ? -1 : 1));

  it('follows a turn from the caller through the gateway, the queue and the worker to each model call', async () => {
    const worker = fleet.addWorker();
    await worker.ready;
    await simAdmin('/sim/script', [
      {
        match: { user: 'tracer' },
        reply: { tool_calls: [{ name: 'save_note', arguments: { text: 'weekly' } }] },
      },
      { match: { user: 'tracer' }, reply: 'Noted: weekly [1].' },
    ]);
    // The caller is traced already: the turn continues its trace.
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const res = await send('/v1/users/tracer/messages', { text: 'How long do we keep records?' }, 'POST', {
      traceparent: `00-${traceId}-${callerSpan}-01`,
    });
    expect(res.status).toBe(202);
    const { turnId } = (await res.json()) as { turnId: string };
    expect(await settledTurn(fleet.gatewayUrl, turnId, 30_000)).toMatchObject({ status: 'completed' });
    await collector.until(
      () =>
        named(inTrace(traceId), 'turn.delivery').length === 1 &&
        named(inTrace(traceId), 'POST /v1/users/:userId/messages').length === 1,
    );
    const spans = inTrace(traceId);

    const request = one(spans, 'POST /v1/users/:userId/messages');
    expect(request).toMatchObject({ service: 'fleet-gateway', kind: KIND.server, parentSpanId: callerSpan });
    expect(request.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/users/:userId/messages',
      'http.response.status_code': 202,
      'fleet.user_id': 'tracer',
    });
    const accept = one(spans, 'turn.accept');
    expect(accept).toMatchObject({
      service: 'fleet-gateway',
      kind: KIND.producer,
      parentSpanId: request.spanId,
    });
    expect(accept.attributes).toMatchObject({
      'fleet.turn_id': turnId,
      'fleet.turn.seq': 1,
      'fleet.user_id': 'tracer',
    });

    // The worker's spans hang under the accept span, across the process boundary.
    const queue = one(spans, 'turn.queue');
    expect(queue).toMatchObject({ service: 'fleet-worker', parentSpanId: accept.spanId });
    const delivery = one(spans, 'turn.delivery');
    expect(delivery).toMatchObject({
      service: 'fleet-worker',
      kind: KIND.consumer,
      parentSpanId: accept.spanId,
    });
    expect(delivery.links).toEqual([]);
    expect(delivery.attributes).toMatchObject({
      'fleet.turn_id': turnId,
      'fleet.turn.attempt': 1,
      'fleet.turn.gate': 'acquired',
      'fleet.turn.outcome': 'completed',
      'fleet.tenant': 'acme',
      'messaging.system': 'bullmq',
    });
    const stages = byStart(spans.filter((s) => s.parentSpanId === delivery.spanId));
    expect(stages.map((s) => s.name)).toEqual([
      'turn.gate',
      'turn.load',
      'turn.retrieval',
      'turn.model',
      'turn.checkpoint',
      'turn.tool',
      'turn.checkpoint',
      'turn.model',
      'turn.checkpoint',
      'turn.record',
      'turn.commit',
    ]);
    for (const s of stages) expect(s.attributes['fleet.turn.stage']).toBe(s.name.slice('turn.'.length));
    expect(one(stages, 'turn.retrieval').attributes['fleet.retrieval.passages']).toBe(1);
    expect(one(stages, 'turn.record').attributes['db.system.name']).toBe('postgresql');
    expect(one(stages, 'turn.commit').attributes['db.system.name']).toBe('redis');
    expect(one(stages, 'turn.tool').attributes).toMatchObject({
      'gen_ai.tool.name': 'save_note',
      'fleet.tool.ok': true,
    });

    // Each model stage made one call to the LLM server, with the server chosen, tokens and cache.
    const calls = named(stages, 'turn.model').map((model) => {
      const [call, ...more] = spans.filter((s) => s.parentSpanId === model.spanId);
      expect(more).toEqual([]);
      return call!;
    });
    const server = new URL(sim.url);
    for (const call of calls) {
      expect(call).toMatchObject({ name: 'chat fleet-sim', kind: KIND.client, service: 'fleet-worker' });
      expect(call.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'fleet-sim',
        'server.address': server.hostname,
        'server.port': Number(server.port),
        'fleet.llm.server': sim.url,
        'fleet.llm.attempt': 1,
      });
      expect(call.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
      expect(call.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    }
    // The second call repeats the first one's prompt and adds to it: the server's prefix cache hits.
    expect(calls.map((c) => c.attributes['fleet.llm.cache_hit'])).toEqual([false, true]);
    expect(calls[1]!.attributes['fleet.llm.cached_tokens']).toBeGreaterThan(0);
    expect(spans.every((s) => s.status !== 2)).toBe(true);
    // The worker's log lines of the turn name its trace and the span they were written in.
    const started = workerLogLines().find((l) => l.msg === 'turn started' && l.turnId === turnId);
    expect(started).toMatchObject({ userId: 'tracer', trace_id: traceId, span_id: delivery.spanId });
    await worker.stop();
  });

  it('keeps a delivery SIGKILLed mid-turn and the redelivery that finishes it in one trace, linked', async () => {
    // The first delivery's model call never answers: it is mid-turn when its worker is killed.
    await simAdmin('/sim/script', [{ match: { user: 'crashed' }, reply: 'Seven years.', times: 5 }]);
    await simAdmin('/sim/config', { rules: [{ match: { user: 'crashed' }, latencyMs: 3_600_000 }] });
    const doomed = fleet.addWorker();
    await doomed.ready;
    const res = await send('/v1/users/crashed/messages', { text: 'How long do we keep records?' }, 'POST');
    const { turnId } = (await res.json()) as { turnId: string };
    const ofDoomed = (s: CollectedSpan) => s.resource['process.pid'] === doomed.pid;
    // What the doomed delivery finished before its model call was exported: then it dies.
    const [retrieval] = await collector
      .until((all) =>
        all.some(
          (s) =>
            ofDoomed(s) && s.name === 'turn.retrieval' && s.attributes['fleet.turn.stage'] === 'retrieval',
        ),
      )
      .then((all) => all.filter((s) => ofDoomed(s) && s.name === 'turn.retrieval'));
    doomed.kill('SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');
    await simAdmin('/sim/config', { rules: [] });
    const rescuer = fleet.addWorker();
    expect(await settledTurn(fleet.gatewayUrl, turnId, 60_000)).toMatchObject({ status: 'completed' });

    const traceId = retrieval!.traceId;
    const finished = (s: CollectedSpan) =>
      s.name === 'turn.delivery' && s.attributes['fleet.turn.outcome'] === 'completed';
    await collector.until(() => inTrace(traceId).some(finished));
    const spans = inTrace(traceId);
    const accept = one(spans, 'turn.accept');
    expect(accept.attributes['fleet.turn_id']).toBe(turnId);
    // The killed delivery's span never ended (nothing exported it); its finished stages name it as parent.
    const killed = retrieval!.parentSpanId!;
    expect(spans.some((s) => s.spanId === killed)).toBe(false);
    expect(spans.filter(ofDoomed).map((s) => s.name)).toEqual(
      expect.arrayContaining(['turn.load', 'turn.retrieval']),
    );
    // Every later delivery is a child of the accept span in the same trace, linked to the one before
    // it (the lease the dead worker held makes the first redeliveries wait): the chain leads back to it.
    const deliveries = named(spans, 'turn.delivery');
    for (const d of deliveries) {
      expect(d).toMatchObject({ service: 'fleet-worker', parentSpanId: accept.spanId });
      expect(d.resource['process.pid']).toBe(rescuer.pid);
      expect(d.links).toHaveLength(1);
      expect(d.links[0]!.traceId).toBe(traceId);
    }
    const byId = new Map(deliveries.map((d) => [d.spanId, d]));
    let at = deliveries.find(finished)!;
    const chain = [at.attributes['fleet.turn.gate']];
    while (byId.has(at.links[0]!.spanId)) {
      at = byId.get(at.links[0]!.spanId)!;
      chain.push(at.attributes['fleet.turn.gate']);
    }
    expect(at.links[0]!.spanId).toBe(killed);
    expect(chain.length).toBe(deliveries.length);
    expect(chain[0]).toBe('acquired');
    await rescuer.stop();
  });
  it('shows a parked delivery and the one its predecessor woke as linked spans of one trace per turn', async () => {
    // The user's first turn hangs in its model call until it is cancelled; the second one parks.
    await simAdmin('/sim/script', [{ match: { user: 'parker' }, reply: 'Seven years.', times: 5 }]);
    await simAdmin('/sim/config', {
      rules: [{ match: { contains: 'first question' }, latencyMs: 3_600_000 }],
    });
    const worker = fleet.addWorker();
    await worker.ready;
    // Accepted in FIFO order: with fair queueing the second turn would wait in `delayed` until the
    // first ended, never delivered early, so never parked.
    const fifo = await fleet.addGateway({ QUEUE_ORDER: 'fifo' });
    const post = async (text: string) =>
      (
        (await (
          await fetch(`${fifo}/v1/users/parker/messages`, {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ text }),
          })
        ).json()) as { turnId: string }
      ).turnId;
    const first = await post('The first question.');
    const second = await post('The second question.');
    const ofTurn = (turnId: string) => (s: CollectedSpan) => s.attributes['fleet.turn_id'] === turnId;
    const parked = (s: CollectedSpan) =>
      s.name === 'turn.delivery' && s.attributes['fleet.turn.gate'] === 'park';
    await collector.until((all) => all.some((s) => ofTurn(second)(s) && parked(s)));
    expect((await send(`/v1/turns/${first}/cancel`, {}, 'POST')).status).toBe(202);
    expect(await settledTurn(fleet.gatewayUrl, second, 30_000)).toMatchObject({ status: 'completed' });
    await simAdmin('/sim/config', { rules: [] });

    const accepted = (turnId: string) =>
      collector.spans.find((s) => s.name === 'turn.accept' && ofTurn(turnId)(s))!;
    const finished = (s: CollectedSpan) => s.attributes['fleet.turn.outcome'] === 'completed';
    await collector.until((all) => all.some((s) => ofTurn(second)(s) && finished(s)));
    const [firstTurn, two] = [accepted(first), accepted(second)];
    expect(firstTurn.traceId).not.toBe(two.traceId);
    const deliveries = named(inTrace(two.traceId), 'turn.delivery');
    const park = deliveries.find(parked)!;
    const ran = deliveries.find(finished)!;
    expect(deliveries).toHaveLength(2);
    for (const d of [park, ran]) expect(d.parentSpanId).toBe(two.spanId);
    expect(park.links).toEqual([]);
    expect(ran.links).toEqual([{ traceId: two.traceId, spanId: park.spanId }]);
    expect(ran.attributes['fleet.turn.gate']).toBe('acquired');
    // The first turn's trace holds its own delivery, cancelled.
    await collector.until(() => named(inTrace(firstTurn.traceId), 'turn.delivery').length === 1);
    expect(one(inTrace(firstTurn.traceId), 'turn.delivery').attributes['fleet.turn.outcome']).toBe(
      'cancelled',
    );
    await worker.stop();
  });
});
