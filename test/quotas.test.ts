import {
  INTAKE_JOB_NAME,
  INTAKE_QUEUE,
  intakeQueuePrefix,
  partitionQueueName,
  partitionQueuePrefix,
  tenantKeys,
  userKeys,
  windowSpans,
} from '@agent-fleet/core';
import { PartitionQueues, TurnProducer, TurnRecords } from '@agent-fleet/turns';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { mapLimit, postMessage, settledTurn, waitFor } from './support/fleet.ts';
import { simAdmin } from './support/sim-admin.ts';
import { useSimFleet } from './support/sim-fleet.ts';

/**
 * Token budgets with real gateway and worker processes and the simulator over HTTP: refusals at
 * every way in leave nothing behind, a turn that runs out stops after its step, concurrent turns
 * pass a budget by at most a step each, and review runs count too.
 */
describe('quotas: checked at accept and before each model call', () => {
  const { sim, fleet } = useSimFleet({
    sim: { mode: 'script' },
    workers: 1,
    env: { LOG_LEVEL: 'warn', PARTITIONS: '4' },
    untilWorkersReady: true,
  });
  const admin = simAdmin(sim);

  const send = (method: string, path: string, body?: unknown) =>
    fetch(`${fleet.gatewayUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const profile = async (userId: string, tenant: string) =>
    expect((await send('PUT', `/v1/users/${userId}/profile`, { tenant, groups: ['staff'] })).status).toBe(
      200,
    );
  const quota = async (tenant: string, body: Record<string, unknown>) =>
    expect((await send('PUT', `/v1/tenants/${tenant}/quota`, body)).status).toBe(200);
  const reported = async () => (await admin.stats()).usage.byUser;
  const tenantUsed = async (tenant: string) =>
    Number(
      (await fleet.redis.get(tenantKeys(fleet.namespace, tenant).used(windowSpans(Date.now()).day.id))) ?? 0,
    );
  /** What a refused accept must leave untouched: the user's seq, pending turns and queued jobs. */
  const footprint = async (userId: string) => {
    const k = userKeys(fleet.namespace, userId);
    const queues = Array.from(
      { length: 4 },
      (_, i) =>
        new Queue(partitionQueueName(i), {
          connection: fleet.redis,
          prefix: partitionQueuePrefix(fleet.namespace, i),
        }),
    );
    const jobs = (
      await Promise.all(queues.map((q) => q.getJobs(['wait', 'prioritized', 'delayed', 'active'])))
    )
      .flat()
      .filter((j) => j.data?.userId === userId).length;
    await Promise.all(queues.map((q) => q.close()));
    return { seq: await fleet.redis.get(k.seq), pending: await fleet.redis.hlen(k.pending), jobs };
  };

  it('refuses a message at every way in once a budget is used up: 429 with resetAt, nothing accepted', async () => {
    await profile('ida', 'spent');
    const { turnId } = await postMessage(fleet.gatewayUrl, 'ida', 'first');
    expect((await settledTurn(fleet.gatewayUrl, turnId)).status).toBe('completed');
    // The tenant has used what it may today.
    await quota('spent', { day: await tenantUsed('spent') });
    const before = await footprint('ida');
    const refused = await send('POST', '/v1/users/ida/messages', { text: 'second' });
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as {
      error: { code: string; details: { resetAt: string; scope: string } };
    };
    expect(body.error).toMatchObject({ code: 'quota_exceeded', details: { scope: 'tenant', window: 'day' } });
    expect(Date.parse(body.error.details.resetAt)).toBe(windowSpans(Date.now()).day.resetAt);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('x-should-retry')).toBe('false');
    // The SDK's way straight to Redis (FleetClient's producer: no profiles, the tenant the fleet noted).
    const partitions = new PartitionQueues({
      connection: fleet.redis,
      namespace: fleet.namespace,
      partitions: 4,
      policy: { attempts: 3, backoffMs: 100 },
    });
    const sdk = new TurnProducer({
      redis: fleet.redis,
      namespace: fleet.namespace,
      partitions,
      records: new TurnRecords({ redis: fleet.redis, namespace: fleet.namespace, ttlSeconds: 3600 }),
      idempotencyTtlSeconds: 60,
      recordTtlSeconds: 3600,
    });
    await expect(sdk.accept({ userId: 'ida', text: 'third' })).rejects.toMatchObject({
      code: 'quota_exceeded',
    });
    await partitions.close();
    // The intake queue: the job fails with that reason and is not tried again.
    const intake = new Queue(INTAKE_QUEUE, {
      connection: fleet.redis,
      prefix: intakeQueuePrefix(fleet.namespace),
    });
    const job = await intake.add(INTAKE_JOB_NAME, { v: 1, userId: 'ida', text: 'fourth' }, { attempts: 3 });
    await waitFor(async () => (await job.getState()) === 'failed', { timeoutMs: 10_000 });
    const failed = (await intake.getJob(job.id!))!;
    expect(failed.failedReason).toMatch(/quota_exceeded: the daily token budget of tenant spent is used up/);
    expect(failed.attemptsMade).toBe(1);
    await intake.close();
    // Nothing of the three was half-accepted: no seq handed out, nothing pending, nothing queued.
    expect(await footprint('ida')).toEqual(before);
    // A user's own budget refuses the same way, and budgets back to none let messages in again.
    await quota('spent', {});
    await profile('jo', 'spent');
    expect((await send('PUT', '/v1/users/jo/quota', { month: 1 })).status).toBe(200);
    const { turnId: joFirst } = await postMessage(fleet.gatewayUrl, 'jo', 'uses it up');
    await settledTurn(fleet.gatewayUrl, joFirst);
    const joRefused = await send('POST', '/v1/users/jo/messages', { text: 'over' });
    expect(joRefused.status).toBe(429);
    expect(((await joRefused.json()) as { error: { details: object } }).error.details).toMatchObject({
      scope: 'user',
      subject: 'jo',
      window: 'month',
    });
    expect((await send('POST', '/v1/users/ida/messages', { text: 'again' })).status).toBe(202);
  });

  it('a turn that runs out mid-way ends failed with quota_exceeded after its current step', async () => {
    await profile('kai', 'midway');
    await admin.script([
      { match: { user: 'kai' }, reply: { tool_calls: [{ name: 'recall_notes', arguments: {} }] } },
      { match: { user: 'kai' }, reply: 'Done.' },
    ]);
    // Room for one call: the first step goes through, the second is refused.
    await quota('midway', { day: 1 });
    const { turnId } = await postMessage(fleet.gatewayUrl, 'kai', 'Look at my notes, then answer.');
    const turn = await settledTurn(fleet.gatewayUrl, turnId);
    expect(turn.status).toBe('failed');
    expect(turn.error).toMatch(/^quota_exceeded: the daily token budget of tenant midway is used up/);
    expect((await reported()).kai!.requests).toBe(1);
    // Recorded like any failed turn, with the usage of the step it made.
    const row = await fleet.pool.query('SELECT status, error FROM turns WHERE turn_id = $1', [turnId]);
    expect(row.rows[0]).toMatchObject({ status: 'failed', error: turn.error });
    const ledger = await fleet.pool.query('SELECT calls FROM usage_ledger WHERE source_id = $1', [turnId]);
    expect(ledger.rows).toEqual([{ calls: 1 }]);
  });

  it('under concurrent turns a budget is passed by at most one step’s tokens per user', async () => {
    const users = Array.from({ length: 16 }, (_, i) => `crowd-${i}`);
    for (const u of users) await profile(u, 'crowd');
    const budget = 4000;
    await quota('crowd', { day: budget });
    const posted = await mapLimit(
      users.flatMap((u) => Array.from({ length: 6 }, (_, n) => ({ u, n }))),
      48,
      async ({ u, n }) => {
        const res = await send('POST', `/v1/users/${u}/messages`, {
          text: `Question ${n} of ${u}, in some words.`,
        });
        return res.status === 202 ? ((await res.json()) as { turnId: string }).turnId : null;
      },
    );
    const accepted = posted.filter((t): t is string => t !== null);
    const turns = await Promise.all(accepted.map((t) => settledTurn(fleet.gatewayUrl, t, 60_000)));
    expect(turns.some((t) => t.status === 'completed')).toBe(true);
    const refusedLater = turns.filter((t) => t.status === 'failed');
    for (const t of refusedLater) expect(t.error).toMatch(/^quota_exceeded/);
    expect(refusedLater.length + (posted.length - accepted.length)).toBeGreaterThan(0);
    // Every call the simulator answered was counted, and the budget was passed by at most one
    // step's tokens per user (here each turn is one model call).
    const sim = await reported();
    const simTokens = users.reduce(
      (n, u) => n + (sim[u]?.promptTokens ?? 0) + (sim[u]?.completionTokens ?? 0),
      0,
    );
    expect(await tenantUsed('crowd')).toBe(simTokens);
    const steps = await Promise.all(
      accepted.map(async (t) => {
        const turn = (await (await send('GET', `/v1/turns/${t}`)).json()) as {
          usage?: { totalTokens: number };
        };
        return turn.usage?.totalTokens ?? 0;
      }),
    );
    expect(simTokens).toBeGreaterThanOrEqual(budget);
    expect(simTokens).toBeLessThanOrEqual(budget + users.length * Math.max(...steps));
  });

  it('review runs count against the budgets, and stop when one is used up', async () => {
    await profile('rita', 'reviewers');
    for (const docId of ['memo-1', 'memo-2'])
      expect(
        (
          await send('POST', '/v1/documents', {
            docId,
            title: docId,
            tenant: 'reviewers',
            acl: ['staff'],
            text: 'Gifts above 100 EUR need approval by compliance before they are accepted.',
          })
        ).status,
      ).toBe(201);
    const review = async () => {
      const res = await send('POST', '/v1/reviews', {
        userId: 'rita',
        documents: ['memo-1', 'memo-2'],
        checklist: { items: [{ id: 'gifts', requirement: 'Gifts above the threshold need approval.' }] },
      });
      expect(res.status).toBe(202);
      const { reviewId } = (await res.json()) as { reviewId: string };
      let run: { status: string; tokens: { prompt: number; completion: number } } | undefined;
      await waitFor(
        async () => {
          run = (await (await send('GET', `/v1/reviews/${reviewId}`)).json()) as typeof run;
          return run?.status === 'completed' || run?.status === 'failed';
        },
        { timeoutMs: 30_000 },
      );
      return { reviewId, run: run! };
    };
    const first = await review();
    const spent = first.run.tokens.prompt + first.run.tokens.completion;
    expect(spent).toBeGreaterThan(0);
    expect(await tenantUsed('reviewers')).toBe(spent);
    const usage = (await (await send('GET', '/v1/usage?userId=rita&groupBy=model')).json()) as {
      total: { totalTokens: number };
    };
    expect(usage.total.totalTokens).toBe(spent);
    // Now the tenant's budget is used up: the next run's documents fail with quota_exceeded.
    await quota('reviewers', { day: spent });
    const second = await review();
    const report = (await (await send('GET', `/v1/reviews/${second.reviewId}/report`)).json()) as {
      documents: { outcome: string; error?: { message: string } }[];
    };
    expect(report.documents.map((d) => d.outcome)).toEqual(['failed', 'failed']);
    for (const d of report.documents) expect(d.error?.message).toMatch(/quota_exceeded/);
    expect(await tenantUsed('reviewers')).toBe(spent);
  });
});
