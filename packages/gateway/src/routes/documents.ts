import { FleetError } from '@agent-fleet/core';
import { type DocumentInput, documentInputSchema, ingestDocument } from '@agent-fleet/rag';
import { TENANT_PATTERN } from '@agent-fleet/state';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { assertTenantAccess, requireScope } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { errorResponses, ingestResultSchema } from '../schemas.ts';
import { assertStorable } from '../storable-input.ts';

const DOC_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Multipart fields arrive as strings: `acl` is comma-separated or repeated, `public` is true/false. */
const multipartFields = z.object({
  tenant: z.string(),
  title: z.string().min(1).max(500).optional(),
  docId: z.string().regex(DOC_ID, 'docId must be 1-128 characters of letters, digits and ._-').optional(),
  acl: z.array(z.string()).default([]),
  public: z.enum(['true', 'false']).optional(),
});

/**
 * Documents: `POST /v1/documents` as JSON `{ docId?, title, text, tenant, acl, public? }` or as a
 * multipart upload (a `file` part and the same fields), `DELETE /v1/documents/:docId?tenant=`.
 * Re-posting a document replaces its chunks; both are idempotent.
 */
export const documentRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  app.post(
    '/v1/documents',
    {
      onRequest: [requireScope('documents:write')],
      bodyLimit: deps.config.MAX_DOCUMENT_BYTES + 65_536,
      schema: {
        tags: ['documents'],
        summary: 'Add or replace a document (JSON, or a multipart upload)',
        description:
          'JSON as below, or multipart/form-data with a `file` part (text, Markdown, HTML or PDF) and the ' +
          'fields tenant, title?, docId?, acl (comma-separated or repeated) and public (true/false). ' +
          '201 when created, 200 when replaced or unchanged. A key confined to a tenant writes only its own.',
        consumes: ['application/json', 'multipart/form-data'],
        body: documentInputSchema,
        response: { 200: ingestResultSchema, 201: ingestResultSchema, ...errorResponses },
      },
      // The body schema above documents the JSON form; the handler validates both forms itself.
      validatorCompiler: () => (value) => ({ value }),
    },
    async (req, reply) => {
      let input: DocumentInput;
      if (req.isMultipart()) {
        input = await (async () => readMultipart(req.parts()))().catch((err: unknown) => {
          throw malformedMultipart(err);
        });
      } else {
        const parsed = documentInputSchema.safeParse(req.body);
        if (!parsed.success) {
          const issues = parsed.error.issues.map((i) => ({
            field: `body.${i.path.join('.')}`,
            message: i.message,
          }));
          throw new FleetError('invalid_request', issues.map((i) => `${i.field}: ${i.message}`).join('; '), {
            details: { issues },
          });
        }
        input = { ...parsed.data, source: 'api' };
      }
      assertTenantAccess(req.principal, input.tenant);
      const result = await ingestDocument(input, { retriever: deps.retriever });
      return reply.code(result.status === 'created' ? 201 : 200).send(result);
    },
  );

  app.delete(
    '/v1/documents/:docId',
    {
      onRequest: [requireScope('documents:write')],
      schema: {
        tags: ['documents'],
        summary: 'Delete a document and its chunks',
        response: {
          200: z.object({ docId: z.string(), tenant: z.string(), deleted: z.boolean() }),
          ...errorResponses,
        },
        params: z.object({
          docId: z.string().regex(DOC_ID, 'docId must be 1-128 characters of letters, digits and ._-'),
        }),
        querystring: z.object({
          tenant: z
            .string()
            .regex(TENANT_PATTERN, 'tenant must be 1-128 characters of letters, digits and ._-'),
        }),
      },
    },
    async (req) => {
      assertTenantAccess(req.principal, req.query.tenant);
      const { deleted } = await deps.retriever.deleteDocument(req.query.tenant, req.params.docId);
      return { docId: req.params.docId, tenant: req.query.tenant, deleted };
    },
  );
};

/** busboy's parse errors carry no status: they are the client's malformed body, not a 500. */
function malformedMultipart(err: unknown): unknown {
  if (err instanceof FleetError || (err as { statusCode?: unknown }).statusCode !== undefined) return err;
  return new FleetError('invalid_request', `the multipart body is malformed: ${(err as Error).message}`);
}

type Part =
  | { type: 'file'; fieldname: string; filename: string; mimetype: string; toBuffer(): Promise<Buffer> }
  | { type: 'field'; fieldname: string; value: unknown };

async function readMultipart(parts: AsyncIterable<Part>): Promise<DocumentInput> {
  const fields: Record<string, unknown> = { acl: [] as string[] };
  let file: { data: Uint8Array; filename: string; mime: string } | undefined;
  for await (const part of parts) {
    // Each part is checked as it arrives: the app's NUL check sees no multipart body.
    assertStorable('multipart field name', part.fieldname);
    if (part.type === 'file') assertStorable(`${part.fieldname}.filename`, part.filename);
    else assertStorable(part.fieldname, String(part.value));
    if (part.type === 'file') {
      if (part.fieldname !== 'file')
        throw new FleetError(
          'invalid_request',
          `unexpected file part "${part.fieldname}"; send it as "file"`,
        );
      file = { data: await part.toBuffer(), filename: part.filename, mime: part.mimetype };
    } else if (part.fieldname === 'acl') {
      (fields.acl as string[]).push(
        ...String(part.value)
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean),
      );
    } else {
      fields[part.fieldname] = String(part.value);
    }
  }
  if (!file) throw new FleetError('invalid_request', 'multipart upload needs a "file" part');
  const parsed = multipartFields.safeParse(fields);
  if (!parsed.success) {
    throw new FleetError(
      'invalid_request',
      parsed.error.issues.map((i) => `${i.path.join('.') || 'fields'}: ${i.message}`).join('; '),
    );
  }
  const f = parsed.data;
  const checked = documentInputSchema.safeParse({
    tenant: f.tenant,
    title: f.title ?? file.filename,
    text: 'x',
    acl: f.acl,
    ...(f.docId ? { docId: f.docId } : {}),
  });
  if (!checked.success) {
    throw new FleetError(
      'invalid_request',
      checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  }
  return {
    tenant: f.tenant,
    ...(f.title ? { title: f.title } : {}),
    ...(f.docId ? { docId: f.docId } : {}),
    acl: f.acl,
    ...(f.public ? { public: f.public === 'true' } : {}),
    data: file.data,
    filename: file.filename,
    mime: file.mime,
    source: file.filename,
  };
}
