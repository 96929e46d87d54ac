import { esc, VERDICT_COLORS, VERDICT_LABELS } from './html-parts.ts';
import { VERDICTS } from './statuses.ts';
import type { ReviewReport } from './views.ts';

const WIDTH = 760;
const LABEL = 170;
const ROW = 24;
const BAR = 16;
const TOP = 28;

/**
 * Verdict counts per checklist item as an inline SVG of stacked horizontal bars (one row per item,
 * one colour per verdict, scaled to the largest row), with a legend. Each bar links to the findings
 * table filtered to its item; each segment names its count on hover.
 */
export function verdictChart(report: ReviewReport): string {
  const counts = new Map(report.checklist.items.map((i) => [i.id, new Map<string, number>()]));
  for (const f of report.findings) {
    const row = counts.get(f.itemId);
    row?.set(f.verdict, (row.get(f.verdict) ?? 0) + 1);
  }
  const max = Math.max(1, ...[...counts.values()].map((r) => [...r.values()].reduce((a, b) => a + b, 0)));
  const scale = (WIDTH - LABEL - 50) / max;
  const rows = report.checklist.items.map((item, i) => {
    const y = TOP + i * ROW;
    let x = LABEL;
    const segments = VERDICTS.map((v) => {
      const n = counts.get(item.id)?.get(v) ?? 0;
      if (n === 0) return '';
      const w = n * scale;
      const rect = `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${VERDICT_COLORS[v]}"><title>${esc(item.id)}: ${n} ${esc(VERDICT_LABELS[v])}</title></rect>`;
      const text = w >= 18 ? `<text x="${(x + w / 2).toFixed(1)}" y="${y + 12}" class="n">${n}</text>` : '';
      x += w;
      return rect + text;
    }).join('');
    const total = [...(counts.get(item.id)?.values() ?? [])].reduce((a, b) => a + b, 0);
    return (
      `<a href="#findings" data-item-filter="${esc(item.id)}"><g>` +
      `<text x="${LABEL - 8}" y="${y + 12}" class="label">${esc(truncate(item.id, 24))}<title>${esc(item.requirement)}</title></text>` +
      `${segments}<text x="${(x + 6).toFixed(1)}" y="${y + 12}" class="total">${total}</text></g></a>`
    );
  });
  const legend = VERDICTS.map(
    (v, i) =>
      `<rect x="${LABEL + i * 140}" y="4" width="12" height="12" fill="${VERDICT_COLORS[v]}"/>` +
      `<text x="${LABEL + i * 140 + 18}" y="14" class="legend">${esc(VERDICT_LABELS[v])}</text>`,
  ).join('');
  const height = TOP + report.checklist.items.length * ROW + 4;
  return (
    `<svg class="chart" role="img" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" ` +
    `aria-label="Verdicts per checklist item">${legend}${rows.join('')}</svg>`
  );
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
