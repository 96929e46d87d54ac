import { Transcript } from '@agent-fleet/state';
import { PartitionQueues, TurnProducer, TurnRecords } from '@agent-fleet/turns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTurn, settledTurn, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

/** A message that arrives while the user's turn is queued or running (real processes). */
describe('double texting', () => {
  const { sim, fleet } = useSimFleet({
    sim: { rules: [{ match: { user: 'talker' }, latencyMs: 1500 }] },
    workers: 1,
    env: { LOG_LEVEL: 'warn' },
    untilWorkersReady: true,
  });
  let producer: TurnProducer;
  let partitions: PartitionQueues;

  beforeAll(async () => {
    partitions = new PartitionQueues({
      connection: fleet.redis,
      namespace: fleet.namespace,
      partitions: 8,
      policy: { attempts: 5, backoffMs: 100 },
    });
    const records = new TurnRecords({ redis: fleet.redis, namespace: fleet.namespace, ttlSeconds: 3600 });
    producer = new TurnProducer({
      redis: fleet.redis,
      namespace: fleet.namespace,
      partitions,
      records,
      idempotencyTtlSeconds: 60,
      recordTtlSeconds: 3600,
      seqFloor: (userId) => new Transcript({ pool: fleet.pool }).maxSeq(userId),
    });
  });
  afterAll(async () => {
    await partitions?.close();
  });

  const turn = (turnId: string) => getTurn(fleet.gatewayUrl, turnId);
  const settled = (turnId: string) => settledTurn(fleet.gatewayUrl, turnId);

  it('reject: refuses a message while a turn is in progress, naming that turn, and takes no seq', async () => {
    const first = await producer.accept({ userId: 'talker', text: 'a slow question' });
    const refused = await producer
      .accept({ userId: 'talker', text: 'hello?', doubleTexting: 'reject' })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: 'conflict',
      status: 409,
      details: { turnInProgress: first.turnId },
    });
    expect((await settled(first.turnId)).status).toBe('completed');
    const later = await producer.accept({
      userId: 'talker',
      text: 'now it is free',
      doubleTexting: 'reject',
    });
    expect(later.seq).toBe(2);
    expect((await settled(later.turnId)).status).toBe('completed');
  });

  it("follows the profile's doubleTexting default through the gateway", async () => {
    const json = { 'content-type': 'application/json' };
    const put = await fetch(`${fleet.gatewayUrl}/v1/users/strict/profile`, {
      method: 'PUT',
      headers: json,
      body: JSON.stringify({ tenant: 'acme', groups: [], doubleTexting: 'reject' }),
    });
    expect(put.status).toBe(200);
    expect(((await put.json()) as { settings: unknown }).settings).toEqual({ doubleTexting: 'reject' });
    const post = (text: string, extra = {}) =>
      fetch(`${fleet.gatewayUrl}/v1/users/strict/messages`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ text, ...extra }),
      });
    // Slow the user down so the first turn is still in progress when the second arrives.
    await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/config`, {
      method: 'PUT',
      headers: json,
      body: JSON.stringify({
        rules: [
          { match: { user: 'talker' }, latencyMs: 1500 },
          { match: { user: 'strict' }, latencyMs: 1500 },
        ],
      }),
    });
    const first = (await (await post('first')).json()) as { turnId: string };
    const second = await post('second');
    expect(second.status).toBe(409);
    expect(
      ((await second.json()) as { error: { details: { turnInProgress: string } } }).error.details
        .turnInProgress,
    ).toBe(first.turnId);
    // The request can still ask for something else.
    expect((await post('third', { doubleTexting: 'enqueue' })).status).toBe(202);
    expect((await settled(first.turnId)).status).toBe('completed');
  });

  it('coalesce: messages not started yet run as one turn', async () => {
    await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        rules: [
          { match: { user: 'talker' }, latencyMs: 1500 },
          { match: { user: 'batcher' }, latencyMs: 1500 },
        ],
      }),
    });
    await producer.accept({ userId: 'batcher', text: 'first' });
    const stats = async () =>
      (
        (await (await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/stats`)).json()) as {
          byUser: Record<string, number>;
        }
      ).byUser;
    // The first turn has asked the model (it takes 1.5 s): it will not take the messages below.
    await waitFor(async () => (await stats()).batcher === 1, { timeoutMs: 10_000, intervalMs: 20 });
    const rest = [];
    for (const text of ['second', 'third', 'fourth'])
      rest.push(await producer.accept({ userId: 'batcher', text, doubleTexting: 'coalesce' }));
    const answers = await Promise.all(rest.map((r) => settled(r.turnId)));
    expect(answers.map((a) => a.status)).toEqual(['completed', 'completed', 'completed']);
    // One turn answered all three: system + the first turn (2 messages) + the merged question.
    expect(answers[0]!.reply).toBe('Echo [n=4]: second\n\nthird\n\nfourth');
    expect(answers[1]!.reply).toBe(answers[0]!.reply);
    expect(answers[2]!.reply).toBe(answers[0]!.reply);
    expect((await stats()).batcher).toBe(2);
    const history = (await fleet.redis.lrange(`${fleet.namespace}:{u:batcher}:history`, 0, -1)).map(
      (m) => (JSON.parse(m) as { role: string; content: string }).content,
    );
    expect(history).toEqual(['first', 'Echo [n=2]: first', 'second', 'third', 'fourth', answers[0]!.reply]);
  });

  it('interrupt: the running turn stops at its next step boundary and the new message runs next with its context', async () => {
    // The simulator calls a tool when the message names it: step 1 is a (slow) model call with a tool call.
    const first = await producer.accept({
      userId: 'talker',
      text: 'please run recall_notes about my digest',
    });
    await waitFor(async () => (await turn(first.turnId)).status === 'running', {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    const second = await producer.accept({
      userId: 'talker',
      text: 'forget that, just say hi',
      doubleTexting: 'interrupt',
    });
    expect((await settled(first.turnId)).status).toBe('interrupted');
    const answered = await settled(second.turnId);
    expect(answered.status).toBe('completed');
    // system + the two earlier turns (4 messages) + the interrupted one (2 messages) + this question
    expect(answered.reply).toBe('Echo [n=8]: forget that, just say hi');
    const rows = await fleet.pool.query<{ status: string }>(
      "SELECT status FROM turns WHERE user_id = 'talker' ORDER BY seq",
    );
    expect(rows.rows.map((r) => r.status)).toEqual(['completed', 'completed', 'interrupted', 'completed']);
  });
});
