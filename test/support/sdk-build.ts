import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Builds the published SDK (what consumers install) into a folder of its own; returns its entry. */
export function buildClient(): string {
  return join(buildClientDist({ types: false }), 'index.js');
}

/**
 * Builds the SDK's `dist` into a folder of its own, with its type declarations when `types`;
 * returns the folder.
 */
export function buildClientDist(opts: { types: boolean }): string {
  // Inside the package, so the bundle resolves its declared dependencies (bullmq, ioredis, zod) as an
  // installed copy would, and nothing else.
  const outDir = mkdtempSync(join(root, 'packages/client', '.dist-test-'));
  const res = spawnSync('pnpm', ['exec', 'tsup', '--out-dir', outDir, ...(opts.types ? [] : ['--no-dts'])], {
    cwd: join(root, 'packages/client'),
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`building the client failed:\n${res.stdout}\n${res.stderr}`);
  return outDir;
}
