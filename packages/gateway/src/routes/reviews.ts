import { FleetError } from '@agent-fleet/core';
import {
  type CreateReviewInput,
  createReviewDocSchema,
  type FieldIssue,
  invalidFields,
  parseCreateReview,
  REPORT_CSP,
  type RunSpec,
  renderCsv,
  renderHtml,
  renderMarkdown,
  reviewListSchema,
  reviewReportSchema,
  reviewStatusSchema,
  runIdSchema,
} from '@agent-fleet/review';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { assertTenantAccess, assertUserAccess, requireScope } from '../auth/guards.ts';
import { hasScope } from '../auth/principal.ts';
import type { GatewayDeps } from '../deps.ts';
import { errorResponses } from '../schemas.ts';
import { pageQuery, visiblePage, visibleRun } from './review-access.ts';
import { ingestUploads, readReviewParts } from './review-uploads.ts';

const reviewParams = z.object({ reviewId: runIdSchema });
const accepted = z
  .object({
    reviewId: z.string(),
    scheduleId: z.string().optional().describe('with `schedule`: the schedule whose first run this is'),
  })
  .meta({ id: 'AcceptedReview' });
const statusSchema = reviewStatusSchema.meta({ id: 'Review' });
const FORMATS = ['json', 'md', 'csv', 'html'] as const;
/** Most files one multipart run may upload. */
const MAX_UPLOADS = 100;

/**
 * Review runs: `POST /v1/reviews` (JSON, or multipart with files to ingest as part of the run),
 * `GET /v1/reviews` (newest first, paged), `GET /v1/reviews/:id`, `GET /v1/reviews/:id/report`,
 * `POST /v1/reviews/:id/cancel` and `/resume`. Every route needs the `reviews` scope and may act
 * only for users (and a tenant) the caller may act for; runs of others look like no run (404).
 */
export const reviewRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  app.post(
    '/v1/reviews',
    {
      onRequest: [requireScope('reviews')],
      bodyLimit: (deps.config.MAX_DOCUMENT_BYTES + 65_536) * 4,
      schema: {
        tags: ['reviews'],
        summary: 'Start a review run',
        description:
          'JSON: `{ userId, documents: [docId, ...] | selector: { tenant, docIdPrefix? }, checklist, priority?, name?, ' +
          'schedule?: { cron, tz? } }`; the checklist is `{ items: [{ id, requirement, policyRef? }] }`, or the same ' +
          'as YAML or JSON text. With `schedule` the run is the first of a schedule: BullMQ reruns it on the cron ' +
          'pattern, each rerun reviewing only documents whose content changed since the last completed run. ' +
          'Or multipart/form-data with one `file` part per document to ingest into the user’s tenant as part of ' +
          'the run (needs `documents:write` too) and the fields userId, checklist (YAML or JSON), priority?, name?, schedule? (JSON), ' +
          'documents? (docIds, comma-separated or repeated), acl (groups that may read the uploads) and public?. ' +
          'A file that cannot be parsed is reported failed in the run. 202 with the review id; every invalid ' +
          'field is named in `error.details.issues`.',
        consumes: ['application/json', 'multipart/form-data'],
        body: createReviewDocSchema,
        response: { 202: accepted, ...errorResponses },
      },
      // The schema above documents the JSON form; the handler checks both forms itself, field by field.
      validatorCompiler: () => (value) => ({ value }),
    },
    async (req, reply) => {
      const principal = req.principal!;
      const max = deps.config.REVIEW_MAX_DOCUMENTS;
      const { input, uploads } = req.isMultipart()
        ? await multipartInput(req, max)
        : { input: parseCreateReview(req.body, max), uploads: undefined };
      assertUserAccess(principal, input.userId, 'reviews');
      const profile = await deps.profiles.resolve(input.userId, deps.config.DEFAULT_TENANT);
      if (!profile)
        throw invalidFields([
          { field: 'body.userId', message: `user ${input.userId} has no profile, so may read nothing` },
        ]);
      if (input.selector && input.selector.tenant !== profile.tenant)
        throw invalidFields([
          {
            field: 'body.selector.tenant',
            message: `must be the tenant of user ${input.userId} (${profile.tenant})`,
          },
        ]);
      assertTenantAccess(principal, profile.tenant);
      let spec: RunSpec = input.selector
        ? { selector: input.selector }
        : { documents: input.documents ?? [] };
      if (uploads) {
        if (!hasScope(principal, 'documents:write'))
          throw new FleetError(
            'forbidden',
            'uploading documents with a run needs the documents:write scope too',
          );
        const ingested = await ingestUploads(deps.retriever, profile.tenant, uploads.access, uploads.files);
        spec = {
          documents: [...(input.documents ?? []), ...ingested.docIds],
          ...(ingested.failed.length > 0 ? { failedUploads: ingested.failed } : {}),
        };
      }
      const created = await deps.reviews.create({
        userId: input.userId,
        tenant: profile.tenant,
        checklist: input.checklist,
        spec,
        priority: input.priority,
        ...(input.name ? { name: input.name } : {}),
        ...(input.schedule ? { schedule: input.schedule } : {}),
        createdBy: principal.id,
      });
      return reply.code(202).send(created);
    },
  );

  app.get(
    '/v1/reviews',
    {
      onRequest: [requireScope('reviews')],
      schema: {
        tags: ['reviews'],
        summary: 'Review runs, newest first',
        description:
          'Runs the caller may see (a key confined to a tenant sees that tenant’s), at most `limit` per page; ' +
          'pass `nextBefore` as `before` for the next page.',
        querystring: pageQuery(500, runIdSchema),
        response: { 200: reviewListSchema.meta({ id: 'ReviewList' }), ...errorResponses },
      },
    },
    async (req) => {
      return deps.reviews.list(visiblePage(req.principal!, req.query, 'review runs'));
    },
  );

  app.get(
    '/v1/reviews/:reviewId',
    {
      onRequest: [requireScope('reviews')],
      schema: {
        tags: ['reviews'],
        summary: 'A review run: status, documents done of total, counts by verdict, tokens used, ETA',
        params: reviewParams,
        response: { 200: statusSchema, ...errorResponses },
      },
    },
    async (req) => deps.reviews.status(await visibleRun(deps, req.principal!, req.params.reviewId)),
  );

  app.get(
    '/v1/reviews/:reviewId/report',
    {
      onRequest: [requireScope('reviews')],
      schema: {
        tags: ['reviews'],
        summary: 'The report of a review run (JSON, Markdown, CSV or HTML)',
        description:
          '`format=json` (default) as below; `md` (text/markdown), `csv` (text/csv: one row per finding and one ' +
          'per document without findings; cells that a spreadsheet would run as formulas start with an apostrophe) ' +
          'or `html` (one self-contained page). A running run’s report holds what is done so far.',
        params: reviewParams,
        querystring: z.object({ format: z.enum(FORMATS).default('json') }),
        response: {
          200: {
            description: 'the report in the format asked for',
            content: {
              'application/json': { schema: reviewReportSchema.meta({ id: 'ReviewReport' }) },
              'text/markdown': { schema: z.string() },
              'text/csv': { schema: z.string() },
              'text/html': { schema: z.string() },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const run = await visibleRun(deps, req.principal!, req.params.reviewId);
      const report = await deps.reviews.report(run);
      const name = `review-${run.runId}`;
      switch (req.query.format) {
        case 'json':
          return report;
        case 'md':
          return reply.type('text/markdown; charset=utf-8').send(renderMarkdown(report));
        case 'csv':
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="${name}.csv"`)
            .send(renderCsv(report));
        case 'html':
          return reply
            .type('text/html; charset=utf-8')
            .header('content-security-policy', REPORT_CSP)
            .send(renderHtml(report));
      }
    },
  );

  for (const action of ['cancel', 'resume'] as const) {
    app.post(
      `/v1/reviews/:reviewId/${action}`,
      {
        onRequest: [requireScope('reviews')],
        schema: {
          tags: ['reviews'],
          summary:
            action === 'cancel'
              ? 'Cancel a queued or running review run'
              : 'Resume a cancelled review run: only the documents not done yet are reviewed',
          description:
            action === 'cancel'
              ? 'Jobs stop at their next step; what was recorded stays. 409 when the run already ended.'
              : 'Starts the run’s next generation over its pending documents; each document is reviewed once ' +
                'however often a run is cancelled and resumed. 409 unless the run is cancelled.',
          params: reviewParams,
          response: { 202: statusSchema, ...errorResponses },
        },
      },
      async (req, reply) => {
        const run = await visibleRun(deps, req.principal!, req.params.reviewId);
        if (action === 'cancel') await deps.reviews.cancel(run);
        else await deps.reviews.resume(run);
        return reply.code(202).send(await deps.reviews.status((await deps.reviews.get(run.runId))!));
      },
    );
  }
};

/** The multipart form of `POST /v1/reviews`: its fields checked like the JSON body, and its files. */
async function multipartInput(req: FastifyRequest, maxDocuments: number) {
  const { fields, files } = await readReviewParts(
    req.parts({ limits: { files: MAX_UPLOADS, fields: 50 } }),
  ).catch((err: unknown) => {
    throw malformed(err);
  });
  const issues: FieldIssue[] = [];
  const acl = (fields.acl as string[] | undefined) ?? [];
  const isPublic = fields.public === 'true';
  if (fields.public !== undefined && fields.public !== 'true' && fields.public !== 'false')
    issues.push({ field: 'body.public', message: 'public must be true or false' });
  if (files.length > 0 && acl.length === 0 && !isPublic)
    issues.push({
      field: 'body.acl',
      message: 'give the groups that may read the uploaded files (or public=true)',
    });
  const docs = fields.documents as string[] | undefined;
  if (files.length === 0 && !docs?.length)
    issues.push({ field: 'body.file', message: 'send at least one file part, or documents' });
  let input: CreateReviewInput | undefined;
  try {
    input = parseCreateReview(
      {
        userId: fields.userId,
        checklist: fields.checklist,
        ...(fields.priority ? { priority: fields.priority } : {}),
        ...(fields.name ? { name: fields.name } : {}),
        ...(fields.schedule !== undefined ? { schedule: jsonField(fields.schedule) } : {}),
        // Uploads stand in for documents until they are ingested.
        documents: docs?.length ? docs : ['uploads'],
        ...unknownFields(fields),
      },
      maxDocuments,
    );
  } catch (err) {
    issues.push(...(((err as FleetError).details?.issues as FieldIssue[] | undefined) ?? []));
  }
  if (issues.length > 0 || !input) throw invalidFields(issues);
  if (!docs?.length) delete input.documents;
  return { input, uploads: { files, access: { acl, public: isPublic } } };
}

const KNOWN = new Set(['userId', 'checklist', 'priority', 'name', 'documents', 'acl', 'public', 'schedule']);

/** A form field holding JSON (`schedule`): parsed, or left as text for the body check to refuse. */
function jsonField(value: string | string[]): unknown {
  try {
    return JSON.parse(String(value));
  } catch {
    return value;
  }
}

/** Fields the form does not know, passed on so the body check names them. */
function unknownFields(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([k]) => !KNOWN.has(k)));
}

/** busboy's parse errors carry no status: they are the client's malformed body, not a 500. */
function malformed(err: unknown): unknown {
  if (err instanceof FleetError || (err as { statusCode?: unknown }).statusCode !== undefined) return err;
  return new FleetError('invalid_request', `the multipart body is malformed: ${(err as Error).message}`);
}
