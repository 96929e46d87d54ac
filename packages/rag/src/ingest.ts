import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { FleetError } from '@agent-fleet/core';
import { z } from 'zod';
import { isValidGroup, isValidTenant } from './access.ts';
import { type ChunkOptions, chunkText, DEFAULT_CHUNKING } from './chunker.ts';
import type { FrontMatter } from './front-matter.ts';
import { sha256 } from './hashing.ts';
import { type DocumentFormat, ParseError, parseDocument, SUPPORTED_EXTENSIONS } from './parse.ts';
import type { ChunkRecord, DocumentRecord, ReplaceStatus, Retriever } from './ports.ts';

export const DOC_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Bumped when chunking changes, so every document's revision changes and re-ingesting rewrites it. */
const CHUNKER_VERSION = 1;
export const MAX_DOCUMENT_BYTES = 50 * 1024 * 1024;

/** The JSON body of `POST /v1/documents` (the multipart form has the same fields and a `file`). */
export const documentInputSchema = z.object({
  docId: z
    .string()
    .regex(DOC_ID_PATTERN, 'docId must be 1-128 characters of letters, digits and ._-')
    .optional(),
  title: z.string().min(1).max(500),
  text: z.string().min(1, 'text must not be empty'),
  tenant: z.string().refine(isValidTenant, 'tenant must be 1-128 characters of letters, digits and ._-'),
  acl: z.array(
    z.string().refine(isValidGroup, 'ACL groups are 1-128 characters of letters, digits and ._:@-'),
  ),
  public: z.boolean().optional(),
});

/**
 * One document to ingest: `text`, or `data` with a `filename` and/or `mime` to pick the parser.
 * Precedence, field by field: what is given here wins, then the Markdown front matter (`id`,
 * `title`; `acl` and `public` only with `trustFrontMatterAccess`), then defaults (a stable id from tenant and source, the first heading
 * or the file name, no groups, not public). `tenant` only ever comes from here. A document that
 * ends with no group and not public would be readable by nobody and is refused.
 */
export interface DocumentInput {
  tenant: string;
  docId?: string;
  title?: string;
  acl?: string[];
  public?: boolean;
  text?: string;
  data?: Uint8Array;
  filename?: string;
  mime?: string;
  format?: DocumentFormat;
  /** Recorded on every chunk; defaults to the file name, else `api`. Feeds the default docId. */
  source?: string;
  /**
   * Let the front matter's `acl` and `public` apply (files from disk, written by operators). Off by
   * default, so uploaded content can never widen who reads it; `id` and `title` apply either way.
   */
  trustFrontMatterAccess?: boolean;
}

export interface PreparedDocument {
  doc: DocumentRecord;
  chunks: ChunkRecord[];
}

/** A stable id from tenant and source: readable prefix, hash suffix. */
export function stableDocId(tenant: string, source: string): string {
  const stem = basename(source, extname(source))
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
  return `${stem || 'doc'}-${sha256(`${tenant}\u0000${source}`).slice(0, 12)}`;
}

/** Parses and chunks a document into the records a `Retriever` stores. Throws `ParseError`/`FleetError`. */
export async function prepareDocument(
  input: DocumentInput,
  chunking: ChunkOptions = {},
): Promise<PreparedDocument> {
  const bad = (m: string, reason: string) => new FleetError('invalid_request', m, { details: { reason } });
  if (!isValidTenant(input.tenant)) throw bad('invalid tenant', 'tenant');
  const data = input.text ?? input.data;
  if (data === undefined) throw bad('a document needs text or file data', 'empty');
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > MAX_DOCUMENT_BYTES)
    throw new FleetError('payload_too_large', `document is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  const format =
    // Text given without a file name is read as Markdown (plain prose is valid Markdown), so the
    // headings of documents posted through the API become their sections.
    input.format ?? (input.text !== undefined && !input.filename && !input.mime ? 'markdown' : undefined);
  const parsed = await parseDocument({
    data,
    ...(input.filename ? { filename: input.filename } : {}),
    ...(input.mime ? { mime: input.mime } : {}),
    ...(format ? { format } : {}),
  });
  const meta: FrontMatter = input.trustFrontMatterAccess
    ? parsed.meta
    : {
        ...(parsed.meta.id ? { id: parsed.meta.id } : {}),
        ...(parsed.meta.title ? { title: parsed.meta.title } : {}),
      };
  const source = input.source ?? input.filename ?? 'api';
  const docId = input.docId ?? meta.id ?? stableDocId(input.tenant, source);
  if (!DOC_ID_PATTERN.test(docId))
    throw bad(`docId ${JSON.stringify(docId)} is not 1-128 of [A-Za-z0-9._-]`, 'doc_id');
  const title =
    input.title ??
    meta.title ??
    parsed.title ??
    (input.filename ? basename(input.filename, extname(input.filename)) : 'Untitled');
  const acl = [...new Set(input.acl ?? meta.acl ?? [])];
  const isPublic = input.public ?? meta.public ?? false;
  const invalid = acl.find((g) => !isValidGroup(g));
  if (invalid !== undefined) throw bad(`ACL group ${JSON.stringify(invalid)} is malformed`, 'acl');
  if (acl.length === 0 && !isPublic)
    throw bad(
      `${source}: no ACL group and not public: nobody could read it (give acl groups or public)`,
      'no_readers',
    );
  const options = { ...DEFAULT_CHUNKING, ...chunking };
  const contentHash = sha256(parsed.text);
  const doc: DocumentRecord = {
    tenant: input.tenant,
    docId,
    title,
    source,
    acl,
    public: isPublic,
    contentHash,
    revision: sha256(JSON.stringify([CHUNKER_VERSION, contentHash, title, source, acl, isPublic, options])),
  };
  const chunks = chunkText(parsed.text, parsed.headings, options).map(
    (c, i): ChunkRecord => ({
      tenant: doc.tenant,
      docId,
      chunkIndex: i,
      title,
      sectionPath: c.sectionPath,
      acl,
      public: isPublic,
      source,
      contentHash: sha256(c.text),
      text: c.text,
      tokenCount: c.tokenCount,
      start: c.start,
      end: c.end,
    }),
  );
  return { doc, chunks };
}

export interface IngestResult {
  docId: string;
  title: string;
  status: ReplaceStatus;
  chunks: number;
}

/** Parses, chunks and stores one document (the API's path). Idempotent for the same input. */
export async function ingestDocument(
  input: DocumentInput,
  opts: { retriever: Retriever; chunking?: ChunkOptions },
): Promise<IngestResult> {
  const { doc, chunks } = await prepareDocument(input, opts.chunking);
  const { status } = await opts.retriever.replaceDocument(doc, chunks);
  return { docId: doc.docId, title: doc.title, status, chunks: chunks.length };
}

export interface FileResult {
  path: string;
  source: string;
  status: ReplaceStatus | 'failed';
  docId?: string;
  chunks?: number;
  error?: { code: string; reason?: string; message: string };
}

export interface IngestReport {
  files: FileResult[];
  ok: number;
  failed: number;
  chunks: number;
  durationMs: number;
}

export interface IngestPathsOptions {
  tenant: string;
  acl?: string[];
  public?: boolean;
  retriever: Retriever;
  chunking?: ChunkOptions;
  /** Sources (and default docIds) are paths relative to this; defaults to the working directory. */
  root?: string;
  /** Files in flight at once; defaults to 4. */
  concurrency?: number;
  onStart?: (total: number) => void;
  onProgress?: (p: { done: number; total: number; file: FileResult }) => void;
}

/**
 * Ingests files and folders (recursively: files with a supported extension, skipping dot entries
 * and node_modules). A file that fails is reported with its error and the others go on.
 */
export async function ingestPaths(paths: string[], opts: IngestPathsOptions): Promise<IngestReport> {
  const started = performance.now();
  const root = resolve(opts.root ?? process.cwd());
  const found: { path: string; error?: FleetError }[] = [];
  for (const p of paths) {
    try {
      found.push(...(await discoverFiles(resolve(p))).map((path) => ({ path })));
    } catch (cause) {
      found.push({
        path: resolve(p),
        error: new FleetError('not_found', `${p}: no such file or folder`, { cause }),
      });
    }
  }
  const unique = [...new Map(found.map((f) => [f.path, f])).values()];
  opts.onStart?.(unique.length);
  const results = new Array<FileResult>(unique.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < unique.length) {
      const i = next++;
      const { path, error } = unique[i]!;
      const source = relative(root, path).split(sep).join('/') || basename(path);
      results[i] = error ? failed(path, source, error) : await ingestFile(path, source, opts);
      opts.onProgress?.({ done: ++done, total: unique.length, file: results[i]! });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
  const ok = results.filter((r) => r.status !== 'failed');
  return {
    files: results,
    ok: ok.length,
    failed: results.length - ok.length,
    chunks: ok.reduce((n, r) => n + (r.chunks ?? 0), 0),
    durationMs: performance.now() - started,
  };
}

async function ingestFile(path: string, source: string, opts: IngestPathsOptions): Promise<FileResult> {
  try {
    const info = await stat(path);
    if (info.size > MAX_DOCUMENT_BYTES)
      throw new FleetError('payload_too_large', `${source}: larger than ${MAX_DOCUMENT_BYTES} bytes`);
    const data = new Uint8Array(await readFile(path));
    const r = await ingestDocument(
      {
        tenant: opts.tenant,
        data,
        filename: path,
        source,
        trustFrontMatterAccess: true,
        ...(opts.acl ? { acl: opts.acl } : {}),
        ...(opts.public === undefined ? {} : { public: opts.public }),
      },
      { retriever: opts.retriever, ...(opts.chunking ? { chunking: opts.chunking } : {}) },
    );
    return { path, source, status: r.status, docId: r.docId, chunks: r.chunks };
  } catch (err) {
    return failed(path, source, err);
  }
}

function failed(path: string, source: string, err: unknown): FileResult {
  const reason = err instanceof ParseError ? err.reason : (err as FleetError)?.details?.reason;
  return {
    path,
    source,
    status: 'failed',
    error: {
      code: err instanceof FleetError ? err.code : 'internal',
      ...(typeof reason === 'string' ? { reason } : {}),
      message: (err as Error)?.message ?? String(err),
    },
  };
}

/**
 * The files `path` names: itself, or for a folder every file with a supported extension under it
 * (hidden entries and node_modules skipped), in name order.
 */
export async function discoverFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const out: string[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const full = join(path, e.name);
    if (e.isDirectory()) out.push(...(await discoverFiles(full)));
    else if (e.isFile() && SUPPORTED_EXTENSIONS.includes(extname(e.name).toLowerCase())) out.push(full);
  }
  return out;
}
