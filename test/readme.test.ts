import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useGateway } from './support/gateway.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The first cell of every row of the table under `## HTTP API (gateway)`. */
function httpTableRoutes(): string[] {
  const section = readme.slice(readme.indexOf('## HTTP API (gateway)'));
  const lines = section.split('\n');
  const start = lines.findIndex((l) => l.startsWith('| route |'));
  const rows: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|')[1]!);
  }
  return rows.flatMap((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
}

/** Every operation of the OpenAPI document as `METHOD /path/:param`. */
function openApiRoutes(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((method) => method !== 'head')
      .map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
  );
}

describe('the README stays true', () => {
  const { app } = useGateway();

  it('its HTTP table lists exactly the routes of the OpenAPI document, and the two UIs beside them', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const documented = openApiRoutes(res.json());
    const listed = httpTableRoutes();
    // The operator UIs (Bull Board, the API docs) are pages, not operations of the document.
    expect(listed.filter((r) => !r.includes(' ')).sort()).toEqual(['/admin/queues', '/docs']);
    const operations = listed.filter((r) => r.includes(' '));
    expect(new Set(operations).size, 'a route listed twice').toBe(operations.length);
    expect([...operations].sort()).toEqual([...documented].sort());
  });

  it('names only Lua scripts that exist', () => {
    const scripts = new Set(
      readdirSync(join(root, 'packages')).flatMap((pkg) =>
        readdirSync(join(root, 'packages', pkg, 'src'), { recursive: true, encoding: 'utf8' })
          .filter((p) => p.endsWith('.lua'))
          .map((p) => p.split('/').at(-1)!),
      ),
    );
    const named = [...readme.matchAll(/[\w-]+\.lua\b/g)].map((m) => m[0]);
    expect(named.length).toBeGreaterThan(0);
    for (const name of named) expect(scripts, `${name} named in the README`).toContain(name);
  });
});
