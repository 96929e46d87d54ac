import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ingestPaths,
  PostgresRetriever,
  SAMPLE_CORPUS_DIR,
  SAMPLE_TENANT,
  splitFrontMatter,
} from '@agent-fleet/rag';
import { REPORT_CSP } from '@agent-fleet/review';
import { beforeAll, describe, expect, it } from 'vitest';
import { callApi } from './support/api.ts';
import { FAST_RECOVERY_ENV, waitFor } from './support/fleet.ts';
import { simAdmin } from './support/sim-admin.ts';
import { useSimFleet } from './support/sim-fleet.ts';

const CHECKLIST_YAML = `
name: Retention and conduct
items:
  - id: retention
    requirement: Customer due diligence records are kept for five years after the relationship ends.
    policyRef: record-retention
  - id: gifts
    requirement: Gifts and hospitality above the threshold need approval before they are accepted.
  - id: screening
    requirement: Customers are screened against sanctions lists before onboarding.
`;
const ITEMS = 3;
const CASES = Array.from({ length: 12 }, (_, i) => `case-${String(i + 1).padStart(2, '0')}`);

interface Sse {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

interface Status {
  status: string;
  documents: Record<string, number>;
  counts: Record<string, number>;
  tokens: { total: number; calls: number; prompt: number; completion: number };
  eta: { seconds: number | null };
}

interface Report {
  documents: { docId: string; outcome: string | null; error?: { reason?: string; message: string } }[];
  findings: {
    docId: string;
    itemId: string;
    verdict: string;
    reason?: string;
    evidence: { quote: string; section?: string }[];
  }[];
}

/** Reads a Server-Sent Events response until the stream ends. */
async function readSse(res: Response): Promise<Sse[]> {
  const out: Sse[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((l) => !l.startsWith(':') && l.includes(': '))
          .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
      );
      if (fields.data)
        out.push({
          ...(fields.id ? { id: fields.id } : {}),
          event: fields.event ?? 'message',
          data: JSON.parse(fields.data),
        });
    }
  }
  return out;
}

const normalize = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('batch document review runs, end to end (gateway and worker processes, the simulator over HTTP)', () => {
  const { sim, fleet } = useSimFleet({
    workers: 2,
    env: { ...FAST_RECOVERY_ENV, REVIEW_CONCURRENCY: '2', REVIEW_BACKOFF_MS: '100', LOG_LEVEL: 'warn' },
  });
  const admin = simAdmin(sim);
  const api = (method: string, path: string, body?: unknown) => callApi(fleet.gatewayUrl, method, path, body);
  const create = async (body: Record<string, unknown>) => {
    const res = await api('POST', '/v1/reviews', { userId: 'ann', checklist: CHECKLIST_YAML, ...body });
    expect(res.status, res.text).toBe(202);
    return res.json.reviewId as string;
  };
  const status = async (id: string) => (await api('GET', `/v1/reviews/${id}`)).json as unknown as Status;
  const until = async (id: string, want: (s: Status) => boolean, timeoutMs = 60_000) => {
    let last: Status | undefined;
    await waitFor(
      async () => {
        last = await status(id);
        return want(last);
      },
      { timeoutMs, intervalMs: 100, describe: () => JSON.stringify(last) },
    );
    return last!;
  };
  /** A run over every case file, named `name`, once `done` of its documents are reviewed; its id. */
  const runOfCasesUnderway = async (name: string, done: number) => {
    const id = await create({
      documents: CASES,
      checklist: CHECKLIST_YAML.replace('Retention and conduct', name),
    });
    await until(id, (s) => (s.documents.done ?? 0) >= done);
    return id;
  };

  beforeAll(async () => {
    const retriever = new PostgresRetriever({ pool: fleet.pool });
    const report = await ingestPaths([SAMPLE_CORPUS_DIR], { tenant: SAMPLE_TENANT, retriever });
    expect(report.failed).toBe(0);
    expect(
      (await api('PUT', '/v1/users/ann/profile', { tenant: SAMPLE_TENANT, groups: ['compliance'] })).status,
    ).toBe(200);
    for (const [i, docId] of CASES.entries()) {
      const text =
        `# Case file ${i + 1}\n\nCustomer due diligence records are kept for five years after the relationship ends.\n\n` +
        `Gifts above the threshold were accepted without approval in case ${i + 1}.`;
      const res = await api('POST', '/v1/documents', {
        docId,
        title: `Case ${i + 1}`,
        text,
        tenant: SAMPLE_TENANT,
        acl: ['compliance'],
      });
      expect(res.status, res.text).toBe(201);
    }
    await fleet.workersReady();
  });

  it('refuses bad requests field by field, and answers 404 for a run that does not exist', async () => {
    const bad = await api('POST', '/v1/reviews', {
      userId: 'not a user id',
      documents: [],
      checklist: { items: [{ id: 'bad id', requirement: '' }] },
      priority: 'urgent',
    });
    expect(bad.status).toBe(400);
    const fields = (bad.json.error as { details: { issues: { field: string }[] } }).details.issues.map(
      (i) => i.field,
    );
    expect(fields).toEqual(
      expect.arrayContaining([
        'body.userId',
        'body.documents',
        'body.priority',
        'body.checklist.items.0.id',
        'body.checklist.items.0.requirement',
      ]),
    );
    const both = await api('POST', '/v1/reviews', {
      userId: 'ann',
      documents: ['x'],
      selector: { tenant: SAMPLE_TENANT },
      checklist: CHECKLIST_YAML,
    });
    expect(both.status).toBe(400);
    expect(both.text).toContain('body.documents: give either documents or selector');
    const yaml = await api('POST', '/v1/reviews', { userId: 'ann', documents: ['x'], checklist: 'items: [' });
    expect(yaml.text).toContain('body.checklist: not valid YAML or JSON');
    const other = await api('POST', '/v1/reviews', {
      userId: 'ann',
      selector: { tenant: 'globex' },
      checklist: CHECKLIST_YAML,
    });
    expect(other.text).toContain('body.selector.tenant');
    const noProfile = await api('POST', '/v1/reviews', {
      userId: 'zed',
      documents: ['x'],
      checklist: CHECKLIST_YAML,
    });
    expect(noProfile.status).toBe(400);
    expect(noProfile.text).toContain('body.userId');
    const missing = `r_${'0'.repeat(32)}`;
    for (const [method, path] of [
      ['GET', `/v1/reviews/${missing}`],
      ['GET', `/v1/reviews/${missing}/report`],
      ['GET', `/v1/reviews/${missing}/events`],
      ['POST', `/v1/reviews/${missing}/cancel`],
      ['POST', `/v1/reviews/${missing}/resume`],
    ] as const)
      expect((await api(method, path)).status, `${method} ${path}`).toBe(404);
    expect((await api('GET', '/v1/reviews/not-an-id')).status).toBe(400);
    expect((await api('GET', `/v1/reviews/${missing}/report?format=pdf`)).status).toBe(400);
  });

  it('reviews documents: verified evidence, reports as JSON, Markdown, CSV and HTML, progress over SSE, and a document the user may not read never reaches the model', async () => {
    const documents = [
      'record-retention',
      'gifts-entertainment',
      'sanctions-screening',
      'aml-investigations-playbook',
      'no-such-doc',
    ];
    const id = await create({ documents, name: 'quarterly check', priority: 'high' });
    // From the first event (Last-Event-ID 0-0), so none is missed however fast the run goes.
    const events = fetch(`${fleet.gatewayUrl}/v1/reviews/${id}/events`, {
      headers: { 'last-event-id': '0-0' },
    }).then(readSse);
    const done = await until(id, (s) => s.status === 'completed');
    expect(done.documents).toEqual({
      total: 5,
      done: 5,
      reviewed: 3,
      not_permitted: 1,
      not_found: 1,
      failed: 0,
    });
    expect(Object.values(done.counts).reduce((a, b) => a + b, 0)).toBe(3 * ITEMS);
    expect(done.tokens.calls).toBeGreaterThanOrEqual(3);
    expect(done.tokens.total).toBe(done.tokens.prompt + done.tokens.completion);
    expect(done.tokens.prompt).toBeGreaterThan(0);
    expect(done.eta.seconds).toBe(0);

    expect(await admin.requestsContaining('(aml-investigations-playbook)')).toEqual([]);
    const calls = await admin.requestsContaining('(record-retention)');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.priority === 10 && c.responseFormat === 'document_review')).toBe(true);

    const report = (await api('GET', `/v1/reviews/${id}/report`)).json as unknown as Report;
    expect(report.documents.map((d) => [d.docId, d.outcome])).toEqual([
      ['record-retention', 'reviewed'],
      ['gifts-entertainment', 'reviewed'],
      ['sanctions-screening', 'reviewed'],
      ['aml-investigations-playbook', 'not_permitted'],
      ['no-such-doc', 'not_found'],
    ]);
    expect(report.findings).toHaveLength(3 * ITEMS);
    const texts = new Map<string, string>();
    for (const file of ['record-retention', 'gifts-entertainment', 'sanctions-screening']) {
      const raw = await readFile(join(SAMPLE_CORPUS_DIR, `${file}.md`), 'utf8');
      texts.set(file, normalize(splitFrontMatter(raw).body));
    }
    for (const f of report.findings)
      for (const e of f.evidence)
        expect(texts.get(f.docId), `${f.docId} quotes ${e.quote}`).toContain(normalize(e.quote));
    expect(report.findings.some((f) => f.evidence.length > 0 && f.evidence[0]!.section)).toBe(true);

    const md = await api('GET', `/v1/reviews/${id}/report?format=md`);
    expect(md.headers.get('content-type')).toMatch(/^text\/markdown/);
    expect(md.text).toContain('# Review quarterly check');
    expect(md.text).toContain('| `aml-investigations-playbook` |  | not_permitted |');
    const csv = await api('GET', `/v1/reviews/${id}/report?format=csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = csv.text.trimEnd().split('\r\n');
    expect(rows[0]).toBe(
      '"doc_id","doc_title","doc_outcome","doc_error","item_id","requirement","verdict","reason","confidence","evidence","sections","rationale","doc_change","carried_from"',
    );
    expect(rows).toHaveLength(1 + 3 * ITEMS + 2);
    const html = await api('GET', `/v1/reviews/${id}/report?format=html`);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.text).toMatch(
      /^<!doctype html>[\s\S]*<svg class="chart"[\s\S]*<table id="findings-table">[\s\S]*<\/html>\n$/,
    );
    expect(html.headers.get('content-security-policy')).toBe(REPORT_CSP);

    const sse = await events;
    expect(sse[0]).toMatchObject({ event: 'status', data: { status: 'running', generation: 1 } });
    const progress = sse.filter((e) => e.event === 'progress');
    expect(new Set(progress.map((e) => e.data.docId))).toEqual(new Set(documents));
    const dones = progress.map((e) => (e.data.documents as { done: number }).done);
    expect(dones).toEqual([...dones].sort((a, b) => a - b));
    expect(sse.at(-1)).toMatchObject({ event: 'status', data: { status: 'completed' } });
    // Without Last-Event-ID a watcher gets the run as it is first; the run has ended, so that is all.
    const late = await readSse(await fetch(`${fleet.gatewayUrl}/v1/reviews/${id}/events`));
    expect(late).toEqual([
      { event: 'snapshot', data: expect.objectContaining({ reviewId: id, status: 'completed' }) },
    ]);

    // The review documents' backlog is exported beside the partitions' (what an autoscaler reads).
    expect((await api('GET', '/metrics')).text).toMatch(/fleet_queue_backlog\{queue="review\.docs"\} 0/);
    const list = (await api('GET', '/v1/reviews?limit=1')).json as {
      reviews: { reviewId: string }[];
      nextBefore: string;
    };
    expect(list.reviews.map((r) => r.reviewId)).toEqual([id]);
    expect(list.nextBefore).toBe(id);
  });

  it('reviews a selector’s documents and files uploaded with the run; a file that cannot be parsed is reported with its error', async () => {
    const selected = await create({ selector: { tenant: SAMPLE_TENANT, docIdPrefix: 'whistleblowing' } });
    const s = await until(selected, (x) => x.status === 'completed');
    expect(s.documents).toMatchObject({ total: 2, reviewed: 1, not_permitted: 1 });

    const form = new FormData();
    form.append('userId', 'ann');
    form.append('checklist', CHECKLIST_YAML);
    form.append('acl', 'compliance');
    form.append('documents', 'record-retention');
    form.append(
      'file',
      new Blob([
        '# Upload\n\nCustomer due diligence records are kept for five years after the relationship ends.',
      ]),
      'upload.md',
    );
    form.append('file', new Blob(['%PDF-1.7\nthis is not a PDF at all']), 'broken.pdf');
    const res = await fetch(`${fleet.gatewayUrl}/v1/reviews`, { method: 'POST', body: form });
    expect(res.status, await res.clone().text()).toBe(202);
    const id = ((await res.json()) as { reviewId: string }).reviewId;
    const done = await until(id, (x) => x.status === 'completed');
    expect(done.documents).toMatchObject({ total: 3, reviewed: 2, failed: 1 });
    const report = (await api('GET', `/v1/reviews/${id}/report`)).json as unknown as Report;
    const broken = report.documents.find((d) => d.outcome === 'failed')!;
    expect(broken.error).toMatchObject({ reason: 'malformed_pdf' });
    expect(report.findings.filter((f) => f.docId === broken.docId)).toEqual([]);
  });

  it('cancel then resume: the run stops, keeps what it recorded, and reviews every document exactly once', async () => {
    await admin.config({ latencyMs: 300 });
    try {
      const id = await runOfCasesUnderway('cancel run', 2);
      const cancelled = await api('POST', `/v1/reviews/${id}/cancel`);
      expect(cancelled.status).toBe(202);
      expect(cancelled.json.status).toBe('cancelled');
      // Documents in flight finish their model call; then nothing moves.
      await new Promise((r) => setTimeout(r, 1500));
      const held = await status(id);
      await new Promise((r) => setTimeout(r, 1500));
      expect((await status(id)).documents.done).toBe(held.documents.done);
      expect(held.status).toBe('cancelled');
      expect(held.documents.done).toBeLessThan(CASES.length);
      expect((await api('POST', `/v1/reviews/${id}/cancel`)).status).toBe(409);
      const resumed = await api('POST', `/v1/reviews/${id}/resume`);
      expect(resumed.status, resumed.text).toBe(202);
      expect((await api('POST', `/v1/reviews/${id}/resume`)).status).toBe(409);
      const done = await until(id, (s) => s.status === 'completed');
      expect(done.documents).toMatchObject({ total: CASES.length, reviewed: CASES.length });
      const report = (await api('GET', `/v1/reviews/${id}/report`)).json as unknown as Report;
      expect(report.findings).toHaveLength(CASES.length * ITEMS);
      // No fault was injected: one model call per document, across the cancel and the resume.
      for (const docId of CASES) expect(await admin.requestsContaining(`(${docId})`), docId).toHaveLength(1);
    } finally {
      await admin.config({ latencyMs: 0 });
    }
  });

  it('a worker SIGKILLed mid-run: the run completes and every document is recorded exactly once', async () => {
    await admin.resetStats();
    await admin.config({ latencyMs: 300 });
    try {
      const id = await runOfCasesUnderway('kill run', 1);
      const victim = fleet.workers[0]!;
      victim.kill('SIGKILL');
      await victim.exited;
      fleet.workers.splice(0, 1);
      fleet.addWorker();
      const done = await until(id, (s) => s.status === 'completed', 90_000);
      expect(done.documents).toMatchObject({ total: CASES.length, reviewed: CASES.length, failed: 0 });
      const report = (await api('GET', `/v1/reviews/${id}/report`)).json as unknown as Report;
      expect(report.findings).toHaveLength(CASES.length * ITEMS);
      for (const docId of CASES)
        expect(
          report.findings
            .filter((f) => f.docId === docId)
            .map((f) => f.itemId)
            .sort(),
          docId,
        ).toEqual(['gifts', 'retention', 'screening']);
    } finally {
      await admin.config({ latencyMs: 0 });
    }
  });
});
