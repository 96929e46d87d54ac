import { z } from 'zod';
import { checklistItemSchema } from './checklist.ts';
import {
  DOCUMENT_CHANGES,
  DOCUMENT_OUTCOMES,
  REVIEW_PRIORITIES,
  REVIEW_STATUSES,
  UNCLEAR_REASONS,
  VERDICTS,
} from './statuses.ts';
import type { RunDocument, RunProgress, RunRecord, StoredFinding } from './store.ts';

/**
 * What the HTTP API answers about runs, as zod schemas: the gateway serialises its responses
 * through them and publishes them in the OpenAPI document, and the SDK can read them as written.
 */

const iso = z.string().describe('ISO 8601 time (UTC)');

export const tokensSchema = z.object({
  prompt: z.number().int(),
  completion: z.number().int(),
  cached: z.number().int().describe('prompt tokens the servers found in their prefix cache'),
  total: z.number().int().describe('prompt + completion'),
  calls: z.number().int().describe('model calls'),
});

export const documentCountsSchema = z
  .object({
    total: z.number().int(),
    done: z.number().int().describe('documents settled, whatever their outcome'),
    reviewed: z.number().int(),
    not_permitted: z.number().int(),
    not_found: z.number().int(),
    failed: z.number().int(),
  } satisfies Record<'total' | 'done' | (typeof DOCUMENT_OUTCOMES)[number], z.ZodNumber>)
  .describe('documents of the run by outcome');

export const verdictCountsSchema = z
  .object({
    compliant: z.number().int(),
    non_compliant: z.number().int(),
    not_applicable: z.number().int(),
    unclear: z.number().int(),
  } satisfies Record<(typeof VERDICTS)[number], z.ZodNumber>)
  .describe('findings by verdict');

export const reviewStatusSchema = z.object({
  reviewId: z.string(),
  name: z.string().optional(),
  userId: z.string().describe('whose permissions apply'),
  status: z.enum(REVIEW_STATUSES),
  priority: z.enum(REVIEW_PRIORITIES),
  generation: z.number().int().describe('1, plus one per resume'),
  createdAt: iso,
  startedAt: iso.optional(),
  finishedAt: iso.optional(),
  error: z.string().optional().describe('why the run failed'),
  scheduleId: z.string().optional().describe('the schedule this run belongs to'),
  previousReviewId: z
    .string()
    .optional()
    .describe('on a rerun: the completed run whose findings it carries for unchanged documents'),
  documents: documentCountsSchema,
  counts: verdictCountsSchema,
  tokens: tokensSchema,
  eta: z
    .object({
      seconds: z.number().nullable().describe('estimated seconds left; null until a document is done'),
      at: iso.nullable(),
    })
    .describe('from the pace of the documents done so far'),
});
export type ReviewStatusView = z.infer<typeof reviewStatusSchema>;

export const reviewListSchema = z.object({
  reviews: z.array(reviewStatusSchema.omit({ documents: true, counts: true, eta: true })),
  nextBefore: z.string().nullable().describe('pass as `before` for the next page; null on the last'),
});

export type ReviewList = z.infer<typeof reviewListSchema>;

const errorSchema = z.object({ code: z.string(), reason: z.string().optional(), message: z.string() });

export const reportFindingSchema = z.object({
  docId: z.string(),
  itemId: z.string(),
  verdict: z.enum(VERDICTS),
  reason: z.enum(UNCLEAR_REASONS).optional().describe('why the fleet recorded unclear itself'),
  evidence: z.array(
    z.object({
      quote: z.string().describe('occurs verbatim (whitespace aside) in the document'),
      section: z.string().optional().describe('heading path of the section the quote occurs in'),
      before: z.string().optional().describe('the text just before the quote in the document'),
      after: z.string().optional().describe('the text just after the quote in the document'),
    }),
  ),
  rationale: z.string(),
  confidence: z.number(),
  carriedFrom: z
    .string()
    .optional()
    .describe('the run that produced this finding, when it was carried to this rerun unchanged'),
});

export const reportDocumentSchema = z.object({
  docId: z.string(),
  title: z.string().optional(),
  outcome: z.enum(DOCUMENT_OUTCOMES).nullable().describe('null while the document is still pending'),
  error: errorSchema.optional(),
  contentHash: z.string().optional().describe('sha256 of the text reviewed'),
  change: z
    .enum(DOCUMENT_CHANGES)
    .optional()
    .describe('on a rerun: new, changed (both reviewed) or unchanged (findings carried)'),
  tokens: tokensSchema,
  settledAt: iso.optional(),
});

export const reviewReportSchema = z.object({
  reviewId: z.string(),
  name: z.string().optional(),
  userId: z.string(),
  status: z.enum(REVIEW_STATUSES),
  generatedAt: iso,
  createdAt: iso,
  finishedAt: iso.optional(),
  checklist: z.object({ name: z.string().optional(), items: z.array(checklistItemSchema) }),
  scheduleId: z.string().optional(),
  previousReviewId: z.string().optional(),
  summary: z.object({
    documents: documentCountsSchema,
    counts: verdictCountsSchema,
    tokens: tokensSchema,
    changes: z
      .object({ new: z.number().int(), changed: z.number().int(), unchanged: z.number().int() })
      .optional()
      .describe('on a rerun: documents by how they compare with the previous run'),
  }),
  documents: z.array(reportDocumentSchema),
  findings: z.array(reportFindingSchema),
});
export type ReviewReport = z.infer<typeof reviewReportSchema>;

const time = (d: Date | undefined) => (d ? d.toISOString() : undefined);

function tokensOf(u: RunRecord['usage']) {
  return {
    prompt: u.promptTokens,
    completion: u.completionTokens,
    cached: u.cachedTokens,
    total: u.promptTokens + u.completionTokens,
    calls: u.calls,
  };
}

/** The run as `GET /v1/reviews/:id` reports it; `now` for the ETA. */
export function statusView(run: RunRecord, progress: RunProgress, now = Date.now()): ReviewStatusView {
  return {
    ...summaryView(run),
    documents: progress.documents,
    counts: progress.verdicts,
    eta: eta(run, progress, now),
  };
}

/** The run without its counts, as `GET /v1/reviews` lists it. */
export function summaryView(run: RunRecord): z.infer<typeof reviewListSchema>['reviews'][number] {
  return {
    reviewId: run.runId,
    ...(run.name ? { name: run.name } : {}),
    userId: run.userId,
    status: run.status,
    priority: run.priority,
    generation: run.generation,
    createdAt: run.createdAt.toISOString(),
    ...(run.startedAt ? { startedAt: run.startedAt.toISOString() } : {}),
    ...(run.finishedAt ? { finishedAt: run.finishedAt.toISOString() } : {}),
    ...(run.error ? { error: run.error } : {}),
    ...(run.scheduleId ? { scheduleId: run.scheduleId } : {}),
    ...(run.previousRunId ? { previousReviewId: run.previousRunId } : {}),
    tokens: tokensOf(run.usage),
  };
}

function eta(run: RunRecord, p: RunProgress, now: number): ReviewStatusView['eta'] {
  const left = p.documents.total - p.documents.done;
  if (run.status === 'completed' || run.status === 'failed' || left === 0)
    return { seconds: 0, at: new Date(now).toISOString() };
  if (run.status !== 'running' || !run.startedAt || p.documents.done === 0)
    return { seconds: null, at: null };
  const perDocument = (now - run.startedAt.getTime()) / p.documents.done;
  const seconds = Math.round((perDocument * left) / 1000);
  return { seconds, at: new Date(now + seconds * 1000).toISOString() };
}

/**
 * The whole report: the run, its checklist, every document with its outcome (pending ones too, so
 * a report of a running run is complete as far as it goes) and every finding, items in checklist
 * order within each document.
 */
export function buildReport(
  run: RunRecord,
  progress: RunProgress,
  documents: RunDocument[],
  findings: StoredFinding[],
  now = Date.now(),
): ReviewReport {
  const order = new Map(run.checklist.items.map((item, i) => [item.id, i]));
  const docOrder = new Map(documents.map((d) => [d.docId, d.ordinal]));
  const sorted = [...findings].sort(
    (a, b) =>
      (docOrder.get(a.docId) ?? 0) - (docOrder.get(b.docId) ?? 0) ||
      (order.get(a.itemId) ?? 0) - (order.get(b.itemId) ?? 0),
  );
  return {
    reviewId: run.runId,
    ...(run.name ? { name: run.name } : {}),
    userId: run.userId,
    status: run.status,
    generatedAt: new Date(now).toISOString(),
    createdAt: run.createdAt.toISOString(),
    ...(run.finishedAt ? { finishedAt: run.finishedAt.toISOString() } : {}),
    checklist: run.checklist,
    ...(run.scheduleId ? { scheduleId: run.scheduleId } : {}),
    ...(run.previousRunId ? { previousReviewId: run.previousRunId } : {}),
    summary: {
      documents: progress.documents,
      counts: progress.verdicts,
      tokens: tokensOf(run.usage),
      ...(run.previousRunId ? { changes: changeCounts(documents) } : {}),
    },
    documents: documents.map((d) => ({
      docId: d.docId,
      ...(d.title ? { title: d.title } : {}),
      outcome: d.outcome,
      ...(d.error ? { error: d.error } : {}),
      ...(d.contentHash ? { contentHash: d.contentHash } : {}),
      ...(d.change ? { change: d.change } : {}),
      tokens: tokensOf(d.usage),
      ...(d.settledAt ? { settledAt: time(d.settledAt)! } : {}),
    })),
    findings: sorted.map((f) => ({
      docId: f.docId,
      itemId: f.itemId,
      verdict: f.verdict,
      ...(f.reason ? { reason: f.reason } : {}),
      evidence: f.evidence,
      rationale: f.rationale,
      confidence: f.confidence,
      ...(f.carriedFrom ? { carriedFrom: f.carriedFrom } : {}),
    })),
  };
}

function changeCounts(documents: readonly RunDocument[]) {
  const out = { new: 0, changed: 0, unchanged: 0 };
  for (const d of documents) if (d.change) out[d.change]++;
  return out;
}
