/**
 * pnpm schemas: write the JSON Schema files of the public payloads (intake message, intake result,
 * turn result) into packages/client/schema/ from their zod schemas in @agent-fleet/core.
 * `--check` writes nothing and exits 1 when a committed file differs, so CI catches a schema
 * changed without its published file.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publicJsonSchemas } from '@agent-fleet/core';

const root = fileURLToPath(new URL('../', import.meta.url));
const SCHEMA_DIR = join(root, 'packages/client/schema');

const check = process.argv.includes('--check');
const stale: string[] = [];
mkdirSync(SCHEMA_DIR, { recursive: true });
for (const [file, schema] of Object.entries(publicJsonSchemas())) {
  const path = join(SCHEMA_DIR, file);
  const text = `${JSON.stringify(schema, null, 2)}\n`;
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {}
  if (current === text) continue;
  if (check) stale.push(relative(root, path));
  else {
    writeFileSync(path, text);
    process.stdout.write(`wrote ${relative(root, path)}\n`);
  }
}
if (stale.length > 0) {
  process.stderr.write(
    `schemas: out of date with the zod schemas: ${stale.join(', ')}\n  run \`pnpm schemas\` and commit the result\n`,
  );
  process.exit(1);
}
