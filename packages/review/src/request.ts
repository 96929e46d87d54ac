import { storable, userIdSchema } from '@agent-fleet/core';
import { DOC_ID_PATTERN } from '@agent-fleet/rag';
import { z } from 'zod';
import {
  type Checklist,
  checklistSchema,
  type FieldIssue,
  fieldOf,
  invalidFields,
  parseChecklist,
} from './checklist.ts';
import { type ScheduleInput, scheduleInputSchema } from './schedule.ts';
import { REVIEW_PRIORITIES, type ReviewPriority } from './statuses.ts';

const docId = z.string().regex(DOC_ID_PATTERN, 'a docId is 1-128 characters of letters, digits and ._-');
const tenant = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'tenant must be 1-128 characters of letters, digits and ._-');

export const selectorSchema = z.strictObject({
  tenant: tenant.describe("the run user's tenant"),
  docIdPrefix: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/, 'docIdPrefix must be 1-128 characters of letters, digits and ._-')
    .optional()
    .describe('only documents whose docId starts with this'),
});

/** The JSON body of `POST /v1/reviews` with the checklist left to {@link parseChecklist}. */
const bodySchema = z
  .strictObject({
    userId: userIdSchema.describe(
      'whose permissions apply: documents this user may not read are not_permitted',
    ),
    documents: z
      .array(docId)
      .min(1, 'give at least one docId')
      .optional()
      .describe('docIds in the user’s tenant'),
    selector: selectorSchema.optional(),
    checklist: z.unknown(),
    priority: z
      .enum(REVIEW_PRIORITIES)
      .default('normal')
      .describe('among review runs; chat always goes first'),
    name: storable(z.string().trim().min(1).max(200)).optional(),
    schedule: scheduleInputSchema
      .optional()
      .describe(
        'rerun on a cron pattern: each rerun reviews only documents whose content changed since the last completed run and carries the other findings',
      ),
  })
  .superRefine((b, ctx) => {
    if ((b.documents === undefined) === (b.selector === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['documents'],
        message: 'give either documents or selector (one of them)',
      });
    if (b.checklist === undefined)
      ctx.addIssue({ code: 'custom', path: ['checklist'], message: 'checklist is required' });
  });

/** What the OpenAPI document shows for the JSON body (the checklist also as YAML or JSON text). */
export const createReviewDocSchema = bodySchema.safeExtend({
  checklist: z.union([checklistSchema, z.string().describe('the checklist as YAML or JSON text')]),
});

export interface CreateReviewInput {
  userId: string;
  documents?: string[];
  selector?: { tenant: string; docIdPrefix?: string };
  checklist: Checklist;
  priority: ReviewPriority;
  name?: string;
  schedule?: ScheduleInput;
}

/**
 * The body of `POST /v1/reviews`, checked whole: every issue of the body and of the checklist (a
 * value or YAML/JSON text) comes back at once, each naming its field (`body.checklist.items.1.id`).
 * `maxDocuments` bounds `documents`.
 */
export function parseCreateReview(body: unknown, maxDocuments: number): CreateReviewInput {
  const issues: FieldIssue[] = [];
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success)
    issues.push(...parsed.error.issues.map((i) => ({ field: fieldOf('body', i.path), message: i.message })));
  const raw = (body as { checklist?: unknown } | null)?.checklist;
  let checklist: Checklist | undefined;
  if (raw !== undefined) {
    try {
      checklist = parseChecklist(raw, 'body.checklist');
    } catch (err) {
      issues.push(...((err as { details?: { issues?: FieldIssue[] } }).details?.issues ?? []));
    }
  }
  const documents = parsed.success ? parsed.data.documents : undefined;
  if (documents && documents.length > maxDocuments)
    issues.push({
      field: 'body.documents',
      message: `at most ${maxDocuments} documents per run (REVIEW_MAX_DOCUMENTS)`,
    });
  if (issues.length > 0 || !parsed.success || !checklist) throw invalidFields(issues);
  const b = parsed.data;
  return {
    userId: b.userId,
    ...(b.documents ? { documents: b.documents } : {}),
    ...(b.selector ? { selector: b.selector } : {}),
    checklist,
    priority: b.priority,
    ...(b.name ? { name: b.name } : {}),
    ...(b.schedule ? { schedule: b.schedule } : {}),
  };
}
