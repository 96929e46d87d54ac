import { parser } from '@prometheus-io/lezer-promql';

/** A query as Prometheus's own grammar (the lezer parser of its web UI) reads it. */
export interface ParsedQuery {
  /** The metric names its selectors read, e.g. `fleet_queue_backlog`, in order of appearance. */
  metrics: string[];
  /** Where the grammar fails, as `at <offset>: <text>`; empty for a valid query. */
  errors: string[];
}

/**
 * Parses PromQL with Prometheus's grammar. Grafana template variables (`$namespace`) may appear only
 * inside strings, as the fleet's dashboard uses them, where they parse as text.
 */
export function parsePromql(query: string): ParsedQuery {
  const metrics: string[] = [];
  const errors: string[] = [];
  parser.parse(query).iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`at ${node.from}: …${query.slice(Math.max(0, node.from - 20), node.to + 10)}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector')
        metrics.push(query.slice(node.from, node.to));
    },
  });
  return { metrics: [...new Set(metrics)], errors: [...new Set(errors)] };
}

/**
 * The metric names a PromQL expression reads, e.g. `fleet_queue_backlog` in
 * `sum(max by (queue) (fleet_queue_backlog{queue=~"a|b"}))`.
 */
export function metricsOf(query: string): string[] {
  return parsePromql(query).metrics;
}

/** The values a label matcher `label=~"a|b"` (or `label="a"`) of the query accepts, unescaped. */
export function matcherValues(query: string, label: string): string[] | undefined {
  const m = new RegExp(`\\b${label}\\s*(=~|=)\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(query);
  if (!m) return undefined;
  const value = m[2]!.replace(/\\(.)/g, '$1');
  return m[1] === '=' ? [value] : value.split('|').map((v) => v.replace(/\\(.)/g, '$1'));
}
