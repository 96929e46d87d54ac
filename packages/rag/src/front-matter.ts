import { FleetError } from '@agent-fleet/core';

/** What a Markdown file may declare about itself in a leading `---` block. */
export interface FrontMatter {
  id?: string;
  title?: string;
  acl?: string[];
  public?: boolean;
}

const BLOCK = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

/**
 * Splits a small YAML-like front matter (`key: value`, `key: [a, b]`, `true`/`false`, optional
 * quotes) from the body. Only `id`, `title`, `acl` and `public` are read; other keys are ignored so
 * files written for other tools still load. A malformed known key is an error, not a silent default.
 */
export function splitFrontMatter(source: string): { meta: FrontMatter; body: string } {
  const m = BLOCK.exec(source);
  if (!m) return { meta: {}, body: source };
  const meta: FrontMatter = {};
  for (const line of m[1]!.split(/\r?\n/)) {
    if (!line.trim() || line.trim().startsWith('#')) continue;
    const kv = /^([A-Za-z_][\w-]*)\s*:\s*(.*)$/.exec(line);
    if (!kv) continue;
    const key = kv[1]!;
    const raw = kv[2]!.trim();
    const bad = () =>
      new FleetError('invalid_request', `front matter: cannot read ${key}: ${JSON.stringify(raw)}`, {
        details: { reason: 'front_matter' },
      });
    switch (key) {
      case 'id':
      case 'title':
        meta[key] = unquote(raw);
        break;
      case 'acl': {
        const list = /^\[(.*)\]$/.exec(raw);
        if (!list) throw bad();
        meta.acl = list[1]!
          .split(',')
          .map((s) => unquote(s.trim()))
          .filter(Boolean);
        break;
      }
      case 'public':
        if (raw !== 'true' && raw !== 'false') throw bad();
        meta.public = raw === 'true';
        break;
      default:
        break;
    }
  }
  return { meta, body: source.slice(m[0].length) };
}

function unquote(s: string): string {
  const q = /^(['"])(.*)\1$/.exec(s);
  return q ? q[2]! : s;
}
