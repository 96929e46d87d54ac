import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { CreateReviewInput, ReportFormat, ReviewFile } from '@agent-fleet/client/http';
import { discoverFiles } from '@agent-fleet/rag';
import { InvalidArgumentError } from 'commander';
import { REPO_ROOT } from '../paths.ts';
import { readStackFile } from '../stack-file.ts';

/** What `fleet review` was asked, as commander parsed it. */
export interface ReviewOptions {
  checklist: string;
  as: string;
  docs?: string[];
  tenant?: string;
  prefix?: string;
  acl: string[];
  public?: boolean;
  name?: string;
  priority?: 'low' | 'normal' | 'high';
  cron?: string;
  tz?: string;
  out?: string;
  format?: ReportFormat;
  gateway?: string;
  apiKey?: string;
  progress: boolean;
}

export const REPORT_FORMATS: readonly ReportFormat[] = ['json', 'md', 'csv', 'html'];

/** A refusal of the command line, said to the user as is (exit code 2, as commander's own). */
export class UsageError extends Error {}

export function parseFormat(value: string): ReportFormat {
  if (!(REPORT_FORMATS as readonly string[]).includes(value))
    throw new InvalidArgumentError(`use one of ${REPORT_FORMATS.join(', ')}`);
  return value as ReportFormat;
}

export function parseList(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

/**
 * Where the report goes and in which format: `--format` wins, else the extension of `--out`
 * (`.json`, `.md`, `.csv`, `.html`), else HTML; without `--out`, `review-<id>.<format>` here.
 */
export function reportTarget(opts: Pick<ReviewOptions, 'out' | 'format'>): {
  format: ReportFormat;
  path: (reviewId: string) => string;
} {
  const ext = opts.out ? extname(opts.out).slice(1).toLowerCase() : '';
  const fromExt = (REPORT_FORMATS as readonly string[]).includes(ext) ? (ext as ReportFormat) : undefined;
  if (opts.out && !opts.format && !fromExt)
    throw new UsageError(
      `cannot tell the report format from "${basename(opts.out)}": name it .json, .md, .csv or .html, or pass --format`,
    );
  const format = opts.format ?? fromExt ?? 'html';
  return { format, path: (reviewId) => opts.out ?? `review-${reviewId}.${format}` };
}

/** The gateway and the API key: flags, then FLEET_GATEWAY_URL / FLEET_API_KEY, then what `fleet start` recorded. */
export function gatewayCredentials(
  opts: Pick<ReviewOptions, 'gateway' | 'apiKey'>,
  env: Record<string, string | undefined>,
): { baseUrl: string; apiKey: string } {
  const fleetDir = env.FLEET_DIR ?? join(REPO_ROOT, '.fleet');
  const baseUrl = opts.gateway ?? env.FLEET_GATEWAY_URL ?? readStackFile(fleetDir)?.gatewayUrl;
  if (!baseUrl)
    throw new UsageError(
      'no gateway: start the fleet with `npm start`, or pass --gateway <url> (or set FLEET_GATEWAY_URL)',
    );
  const apiKey = opts.apiKey ?? env.FLEET_API_KEY ?? devAdminKey(fleetDir);
  if (!apiKey)
    throw new UsageError(
      'no API key: pass --api-key (or set FLEET_API_KEY) with a key that has the reviews scope and acts for users',
    );
  return { baseUrl, apiKey };
}

function devAdminKey(fleetDir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(fleetDir, 'dev-auth.json'), 'utf8')) as { adminKey?: string })
      .adminKey;
  } catch {
    return undefined;
  }
}

/**
 * The run to create from the command line: the checklist file's text, the documents (`--docs`, a
 * `--tenant`/`--prefix` selector, and the files under `paths`, uploaded with the run), the rest as
 * given. Refuses combinations the gateway would refuse, with what to do instead.
 */
export async function reviewInput(paths: string[], opts: ReviewOptions): Promise<CreateReviewInput> {
  const selector = opts.tenant
    ? { tenant: opts.tenant, ...(opts.prefix ? { docIdPrefix: opts.prefix } : {}) }
    : undefined;
  if (opts.prefix && !opts.tenant)
    throw new UsageError('--prefix selects within a tenant: pass --tenant too');
  if (selector && (paths.length > 0 || opts.docs?.length))
    throw new UsageError('review either a --tenant selection, or files and --docs, not both');
  if (!selector && paths.length === 0 && !opts.docs?.length)
    throw new UsageError('nothing to review: give files or folders, --docs <docIds>, or --tenant [--prefix]');
  if (paths.length > 0 && opts.acl.length === 0 && !opts.public)
    throw new UsageError('say who may read the uploaded files: --acl <groups> (or --public)');
  if (opts.tz && !opts.cron) throw new UsageError('--tz goes with --cron');
  const checklist = await readFile(opts.checklist, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read the checklist ${opts.checklist}: ${err.code ?? err.message}`);
  });
  const files = await uploads(paths);
  return {
    userId: opts.as,
    checklist,
    ...(opts.docs?.length ? { documents: opts.docs } : {}),
    ...(selector ? { selector } : {}),
    ...(files.length > 0 ? { files, acl: opts.acl, ...(opts.public ? { public: true } : {}) } : {}),
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.priority ? { priority: opts.priority } : {}),
    ...(opts.cron ? { schedule: { cron: opts.cron, ...(opts.tz ? { tz: opts.tz } : {}) } } : {}),
  };
}

async function uploads(paths: string[]): Promise<ReviewFile[]> {
  const files: ReviewFile[] = [];
  for (const p of paths) {
    const found = await discoverFiles(p).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${p}: ${err.code ?? err.message}`);
    });
    for (const file of found) files.push({ filename: basename(file), data: await readFile(file) });
  }
  if (paths.length > 0 && files.length === 0)
    throw new UsageError(`no reviewable files (text, Markdown, HTML, PDF) in ${paths.join(', ')}`);
  // Uploads are named by file name (their docIds derive from it), so two of one name would collide.
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.filename))
      throw new UsageError(`two files are named ${f.filename}: uploads are named by file name; rename one`);
    seen.add(f.filename);
  }
  return files;
}
