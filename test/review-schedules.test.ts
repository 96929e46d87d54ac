import { Queue } from 'bullmq';
import { beforeAll, describe, expect, it } from 'vitest';
import { callApi } from './support/api.ts';
import { waitFor } from './support/fleet.ts';
import { simAdmin } from './support/sim-admin.ts';
import { useSimFleet } from './support/sim-fleet.ts';

const TENANT = 'acme';
const CHECKLIST = {
  items: [
    { id: 'retention', requirement: 'Customer records are kept for five years after the relationship ends.' },
    { id: 'gifts', requirement: 'Gifts above the threshold need approval before they are accepted.' },
  ],
};
const text = (n: number, gifts: string) =>
  `# Case file ${n}\n\nCustomer records are kept for five years after the relationship ends.\n\n${gifts}`;

interface Report {
  reviewId: string;
  previousReviewId?: string;
  scheduleId?: string;
  summary: { changes?: Record<string, number>; tokens: { calls: number } };
  documents: { docId: string; outcome: string | null; change?: string; contentHash?: string }[];
  findings: { docId: string; itemId: string; verdict: string; carriedFrom?: string }[];
}

interface Schedule {
  scheduleId: string;
  active: boolean;
  nextRunAt: string | null;
  runs: string[];
}

/**
 * A scheduled run and its incremental rerun with gateway and worker processes and the simulator:
 * the rerun is fired by the schedule's own BullMQ job scheduler (its next job promoted, rather than
 * waiting for the cron time), reviews only the changed and new documents and carries the findings of
 * the others, and the report says which is which.
 */
describe('scheduled review runs: an incremental rerun fired by the job scheduler', () => {
  const { sim, fleet } = useSimFleet({ workers: 1, env: { LOG_LEVEL: 'warn' } });
  const admin = simAdmin(sim);
  const api = (method: string, path: string, body?: unknown) => callApi(fleet.gatewayUrl, method, path, body);
  const putDoc = async (docId: string, body: string) => {
    const res = await api('POST', '/v1/documents', {
      docId,
      title: docId,
      text: body,
      tenant: TENANT,
      acl: ['compliance'],
    });
    expect(res.status, res.text).toBeLessThan(300);
  };
  const completed = async (id: string) =>
    waitFor(async () => (await api('GET', `/v1/reviews/${id}`)).json.status === 'completed', {
      timeoutMs: 60_000,
      intervalMs: 100,
      describe: async () => (await api('GET', `/v1/reviews/${id}`)).text,
    });
  const modelCalls = async (docId: string) => (await admin.requestsContaining(`(${docId})`)).length;

  beforeAll(async () => {
    expect(
      (await api('PUT', '/v1/users/ann/profile', { tenant: TENANT, groups: ['compliance'] })).status,
    ).toBe(200);
    for (const n of [1, 2, 3, 4])
      await putDoc(`sched-${n}`, text(n, `Gifts were approved before acceptance in case ${n}.`));
    await fleet.workersReady();
  });

  it('refuses a cron pattern or a time zone the scheduler cannot fire by, naming the field', async () => {
    const base = { userId: 'ann', documents: ['sched-1'], checklist: CHECKLIST };
    const badCron = await api('POST', '/v1/reviews', { ...base, schedule: { cron: 'every day' } });
    expect(badCron.status).toBe(400);
    expect(badCron.text).toContain('body.schedule.cron');
    const badTz = await api('POST', '/v1/reviews', {
      ...base,
      schedule: { cron: '0 3 * * *', tz: 'Mars/Olympus' },
    });
    expect(badTz.status).toBe(400);
    expect(badTz.text).toContain('body.schedule.tz');
    const unscheduled = (await api('POST', '/v1/reviews', base)).json.reviewId as string;
    expect((await api('GET', `/v1/reviews/${unscheduled}/schedule`)).status).toBe(404);
  });

  it('reruns only changed and new documents, carries the other findings, and the report says which', async () => {
    const runsQueue = new Queue('review.runs', {
      connection: fleet.redis,
      prefix: `${fleet.namespace}:{review}`,
    });
    /** Fires the schedule now: promotes the delayed job its BullMQ job scheduler added for the next time. */
    const fireNow = async (scheduleId: string) => {
      const scheduler = await runsQueue.getJobScheduler(scheduleId);
      expect(scheduler?.pattern).toBe('0 3 * * *');
      const job = await runsQueue.getJob(`repeat:${scheduleId}:${scheduler!.next}`);
      await job!.promote();
      return job!.id!;
    };
    try {
      // Slow answers keep the first run in flight while the schedule fires the first time.
      await admin.config({ latencyMs: 1500 });
      const created = await api('POST', '/v1/reviews', {
        userId: 'ann',
        name: 'nightly cases',
        selector: { tenant: TENANT, docIdPrefix: 'sched-' },
        checklist: CHECKLIST,
        schedule: { cron: '0 3 * * *', tz: 'Europe/Berlin' },
      });
      expect(created.status, created.text).toBe(202);
      const first = created.json.reviewId as string;
      const scheduleId = created.json.scheduleId as string;
      expect(scheduleId).toMatch(/^s_[0-9a-f]{32}$/);
      const schedule = (await api('GET', `/v1/reviews/${first}/schedule`)).json as unknown as Schedule;
      expect(schedule).toMatchObject({ scheduleId, active: true, runs: [first] });
      const next = new Date(schedule.nextRunAt!);
      expect(next.getTime() - Date.now()).toBeGreaterThan(0);
      expect(next.getTime() - Date.now()).toBeLessThanOrEqual(25 * 3600_000);
      const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', timeStyle: 'short' });
      expect(berlin.format(next)).toBe('03:00');

      // A firing while the schedule's run is still in flight starts nothing; the next firing will.
      const busy = await fireNow(scheduleId);
      let outcome: unknown;
      await waitFor(
        async () => {
          const job = await runsQueue.getJob(busy);
          outcome = job?.returnvalue;
          return job?.finishedOn !== undefined;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      expect(outcome).toEqual({ kind: 'skipped', reason: 'previous_run_live' });
      await admin.config({ latencyMs: 0 });
      await completed(first);
      expect(((await api('GET', `/v1/reviews/${first}/schedule`)).json as unknown as Schedule).runs).toEqual([
        first,
      ]);

      // Between the runs: one document changes, one is added, the others stay as they were.
      await putDoc('sched-2', text(2, 'Gifts above the threshold were accepted without approval in case 2.'));
      await putDoc('sched-5', text(5, 'Gifts were approved before acceptance in case 5.'));
      await admin.resetStats();
      await fireNow(scheduleId);
      let rerun = '';
      await waitFor(
        async () => {
          const runs = ((await api('GET', `/v1/reviews/${first}/schedule`)).json as unknown as Schedule).runs;
          rerun = runs.find((r) => r !== first) ?? '';
          return rerun !== '';
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      await completed(rerun);
      // The scheduler goes on: its next firing is scheduled.
      expect((await runsQueue.getJobScheduler(scheduleId))?.next).toBeGreaterThan(Date.now());

      const report = (await api('GET', `/v1/reviews/${rerun}/report`)).json as unknown as Report;
      expect(report).toMatchObject({ previousReviewId: first, scheduleId });
      expect(Object.fromEntries(report.documents.map((d) => [d.docId, [d.outcome, d.change]]))).toEqual({
        'sched-1': ['reviewed', 'unchanged'],
        'sched-2': ['reviewed', 'changed'],
        'sched-3': ['reviewed', 'unchanged'],
        'sched-4': ['reviewed', 'unchanged'],
        'sched-5': ['reviewed', 'new'],
      });
      expect(report.summary.changes).toEqual({ new: 1, changed: 1, unchanged: 3 });
      expect(report.findings).toHaveLength(5 * CHECKLIST.items.length);
      for (const f of report.findings)
        expect(f.carriedFrom, `${f.docId} ${f.itemId}`).toBe(
          ['sched-2', 'sched-5'].includes(f.docId) ? undefined : first,
        );
      // Carried findings are the first run's, as recorded.
      const before = (await api('GET', `/v1/reviews/${first}/report`)).json as unknown as Report;
      const verdict = (r: Report, docId: string) =>
        r.findings.filter((f) => f.docId === docId).map((f) => [f.itemId, f.verdict]);
      expect(verdict(report, 'sched-1')).toEqual(verdict(before, 'sched-1'));
      // No model saw the unchanged documents again; the changed and the new one were reviewed.
      for (const docId of ['sched-1', 'sched-3', 'sched-4']) expect(await modelCalls(docId), docId).toBe(0);
      for (const docId of ['sched-2', 'sched-5']) expect(await modelCalls(docId), docId).toBeGreaterThan(0);
      expect(report.summary.tokens.calls).toBe((await modelCalls('sched-2')) + (await modelCalls('sched-5')));
      const md = (await api('GET', `/v1/reviews/${rerun}/report?format=md`)).text;
      expect(md).toMatch(/`sched-5` \|.*\| new \|/);
      const csv = (await api('GET', `/v1/reviews/${rerun}/report?format=csv`)).text.split('\r\n');
      const rowsOf = (docId: string) => csv.filter((row) => row.startsWith(`"${docId}"`));
      expect(rowsOf('sched-3').map((row) => row.slice(row.lastIndexOf('","unchanged')))).toEqual(
        CHECKLIST.items.map(() => `","unchanged","${first}"`),
      );
      expect(rowsOf('sched-5').map((row) => row.slice(row.lastIndexOf('","new')))).toEqual(
        CHECKLIST.items.map(() => '","new",""'),
      );

      const removed = await api('DELETE', `/v1/reviews/${rerun}/schedule`);
      expect(removed.status).toBe(200);
      expect(removed.json).toMatchObject({
        scheduleId,
        active: false,
        nextRunAt: null,
        runs: [rerun, first],
      });
      expect(await runsQueue.getJobScheduler(scheduleId)).toBeUndefined();
      expect((await api('DELETE', `/v1/reviews/${first}/schedule`)).json).toMatchObject({ active: false });
      const listed = (await api('GET', '/v1/review-schedules')).json as { schedules: Schedule[] };
      expect(listed.schedules.map((s) => [s.scheduleId, s.active])).toEqual([[scheduleId, false]]);
    } finally {
      await admin.config({ latencyMs: 0 });
      await runsQueue.close();
    }
  });
});
