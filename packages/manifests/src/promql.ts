/** PromQL words that are not metric names. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression reads, e.g. `fleet_queue_backlog` in
 * `sum(max by (queue) (fleet_queue_backlog{queue=~"a|b"}))`: strings, label matchers, ranges,
 * grouping clauses, function names and keywords removed. Enough for the fleet's own queries.
 */
export function metricsOf(query: string): string[] {
  const bare = query
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)) {
    if (m[2] === '(' || KEYWORDS.has(m[1]!.toLowerCase())) continue;
    names.add(m[1]!);
  }
  return [...names];
}

/** The values a label matcher `label=~"a|b"` (or `label="a"`) of the query accepts, unescaped. */
export function matcherValues(query: string, label: string): string[] | undefined {
  const m = new RegExp(`\\b${label}\\s*(=~|=)\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(query);
  if (!m) return undefined;
  const value = m[2]!.replace(/\\(.)/g, '$1');
  return m[1] === '=' ? [value] : value.split('|').map((v) => v.replace(/\\(.)/g, '$1'));
}
