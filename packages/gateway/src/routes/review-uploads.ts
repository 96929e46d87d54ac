import { FleetError } from '@agent-fleet/core';
import { ingestDocument, ParseError, type Retriever, stableDocId } from '@agent-fleet/rag';
import { describeError, type FailedUpload } from '@agent-fleet/review';
import { assertStorable } from '../storable-input.ts';

type Part =
  | { type: 'file'; fieldname: string; filename: string; mimetype: string; toBuffer(): Promise<Buffer> }
  | { type: 'field'; fieldname: string; value: unknown };

/** The fields of a multipart `POST /v1/reviews`, as strings, and its files as they were ingested. */
export interface MultipartReview {
  fields: Record<string, string | string[]>;
  files: { filename: string; data: Buffer; mime: string }[];
}

/** Fields that may repeat or hold a comma-separated list. */
const LISTS = new Set(['documents', 'acl']);

/** Reads every part: fields (lists split on commas), and the `file` parts, each at most the upload limit. */
export async function readReviewParts(parts: AsyncIterable<Part>): Promise<MultipartReview> {
  const fields: Record<string, string | string[]> = {};
  const files: MultipartReview['files'] = [];
  for await (const part of parts) {
    assertStorable('multipart field name', part.fieldname);
    if (part.type === 'file') {
      assertStorable(`${part.fieldname}.filename`, part.filename);
      if (part.fieldname !== 'file')
        throw new FleetError(
          'invalid_request',
          `unexpected file part "${part.fieldname}"; send each file as "file"`,
        );
      files.push({ filename: part.filename, data: await part.toBuffer(), mime: part.mimetype });
      continue;
    }
    const value = String(part.value);
    assertStorable(`body.${part.fieldname}`, value);
    if (LISTS.has(part.fieldname)) {
      const list = value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      fields[part.fieldname] = [...((fields[part.fieldname] as string[] | undefined) ?? []), ...list];
    } else fields[part.fieldname] = value;
  }
  return { fields, files };
}

/**
 * Ingests the uploaded files into `tenant` with the given readers (the same path as
 * `POST /v1/documents`): each one that parses becomes a document of the run by its docId; one that
 * does not is reported failed with its error, and the run goes on with the others.
 */
export async function ingestUploads(
  retriever: Retriever,
  tenant: string,
  access: { acl: string[]; public: boolean },
  files: MultipartReview['files'],
): Promise<{ docIds: string[]; failed: FailedUpload[] }> {
  const docIds: string[] = [];
  const failed: FailedUpload[] = [];
  for (const f of files) {
    try {
      const r = await ingestDocument(
        { tenant, data: f.data, filename: f.filename, mime: f.mime, source: f.filename, ...access },
        { retriever },
      );
      docIds.push(r.docId);
    } catch (err) {
      // Only a file that cannot be parsed is the run's to report; refusals of the request itself (no
      // readers, a malformed ACL) and storage failures answer the request.
      if (!(err instanceof ParseError)) throw err;
      failed.push({ docId: stableDocId(tenant, f.filename), title: f.filename, error: describeError(err) });
    }
  }
  return { docIds, failed };
}
