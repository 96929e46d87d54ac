import { statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { type FleetConfig, loadConfig } from '@agent-fleet/core';
import { createRetriever, ingestPaths } from '@agent-fleet/rag';
import { createPool, GROUP_PATTERN, migrate, TENANT_PATTERN } from '@agent-fleet/state';
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError } from 'commander';
import { REPO_ROOT } from '../paths.ts';
import { readStackFile } from '../stack-file.ts';

export interface IngestOptions {
  tenant: string;
  acl: string[];
  public?: boolean;
  concurrency?: number;
}

export function parseTenant(value: string): string {
  if (!TENANT_PATTERN.test(value))
    throw new InvalidArgumentError('use 1-128 letters, digits and ._- (e.g. acme-bank)');
  return value;
}

export function parseAcl(value: string): string[] {
  const groups = value
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  const bad = groups.find((g) => !GROUP_PATTERN.test(g));
  if (bad !== undefined)
    throw new InvalidArgumentError(`"${bad}" is not a group name (letters, digits and ._:@-)`);
  return groups;
}

/**
 * `fleet ingest <paths...> --tenant T --acl g1,g2`: parse, chunk and index files and folders into
 * the configured retriever, with a progress bar. A file that fails is reported and the rest go on;
 * the exit code is 1 when any failed.
 */
export async function ingestCommand(paths: string[], opts: IngestOptions): Promise<number> {
  const env: Record<string, string | undefined> = { ...process.env };
  if (!env.DATABASE_URL) {
    const stack = readStackFile(env.FLEET_DIR ?? join(REPO_ROOT, '.fleet'));
    if (!stack) {
      process.stderr.write(
        'fleet ingest: no fleet is running here; start one with `npm start` or set DATABASE_URL\n',
      );
      return 1;
    }
    env.DATABASE_URL = stack.databaseUrl;
    env.LLM_BASE_URLS ??= stack.llmBaseUrls;
  }
  let config: FleetConfig;
  try {
    config = loadConfig(env);
  } catch (err) {
    process.stderr.write(`fleet ingest: ${(err as Error).message}\n`);
    return 1;
  }
  await migrate(config.DATABASE_URL);
  const pool = createPool(config.DATABASE_URL, 4);
  const retriever = await createRetriever(config, pool);
  const bar = new SingleBar({ format: 'ingesting [{bar}] {value}/{total} files  {file}', hideCursor: true });
  try {
    const report = await ingestPaths(paths, {
      tenant: opts.tenant,
      acl: opts.acl,
      ...(opts.public ? { public: true } : {}),
      retriever,
      root: commonRoot(paths),
      ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      onStart: (total) => bar.start(total, 0, { file: '' }),
      onProgress: ({ done, file }) => bar.update(done, { file: file.source }),
    });
    bar.stop();
    for (const f of report.files) {
      if (f.status === 'failed') process.stderr.write(`  failed     ${f.source}: ${f.error?.message}\n`);
      else process.stdout.write(`  ${f.status.padEnd(10)} ${f.source} (${f.chunks} chunks)\n`);
    }
    process.stdout.write(
      `${report.ok} ingested, ${report.failed} failed, ${report.chunks} chunks in ${(report.durationMs / 1000).toFixed(1)} s\n`,
    );
    return report.failed > 0 ? 1 : 0;
  } finally {
    bar.stop();
    await retriever.close();
    await pool.end();
  }
}

/** The deepest folder holding every given path, so reported sources read `nested/file.md`. */
export function commonRoot(paths: string[]): string {
  const dirs = paths.map((p) => {
    const abs = resolve(p);
    try {
      return statSync(abs).isDirectory() ? abs : dirname(abs);
    } catch {
      return dirname(abs);
    }
  });
  let root = dirs[0] ?? process.cwd();
  for (const d of dirs.slice(1)) {
    while (!(d === root || d.startsWith(root.endsWith(sep) ? root : root + sep))) root = dirname(root);
  }
  return root;
}
