/** A dashboard panel as the committed Grafana JSON has it. */
export interface DashboardPanel {
  type: string;
  title: string;
  description?: string;
  gridPos: { h: number; w: number; x: number; y: number };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: { expr: string; legendFormat: string }[];
}

/** A panel and what its queries returned over the run. */
export interface PanelData {
  panel: DashboardPanel;
  series: { name: string; values: [number, number][] }[];
}

const COLORS = [
  '#73bf69',
  '#f2cc0c',
  '#5794f2',
  '#ff780a',
  '#b877d9',
  '#f2495c',
  '#8ab8ff',
  '#fade2a',
  '#96d98d',
  '#ca95e5',
  '#ffb357',
  '#ff7383',
];
const CELL = 64; // px per grid column (24 columns)
const ROW = 30; // px per grid row

/** A series' name from its labels, as Grafana's legend format names it. */
export function legendName(format: string, metric: Record<string, string>): string {
  const name = format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, l: string) => metric[l] ?? '');
  return name.trim() || JSON.stringify(metric);
}

function formatValue(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '';
  switch (unit) {
    case 's':
      return v === 0 ? '0' : v < 1 ? `${+(v * 1000).toPrecision(3)} ms` : `${+v.toPrecision(3)} s`;
    case 'percentunit':
      return `${+(v * 100).toPrecision(3)}%`;
    case 'bytes':
      return v >= 2 ** 30 ? `${+(v / 2 ** 30).toPrecision(3)} GiB` : `${+(v / 2 ** 20).toPrecision(3)} MiB`;
    case 'reqps':
    case 'ops':
      return `${+v.toPrecision(3)}/s`;
    default:
      return `${+v.toPrecision(3)}`;
  }
}

/** A round upper bound for the axis: 1, 2 or 5 times a power of ten. */
function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= max) ?? 10 * p;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function chartSvg(d: PanelData, width: number, height: number, range: [number, number]): string {
  const unit = d.panel.fieldConfig?.defaults?.unit ?? 'short';
  const left = 64;
  const right = 8;
  const top = 8;
  const bottom = 20;
  const w = width - left - right;
  const h = height - top - bottom;
  const all = d.series.flatMap((s) => s.values.map(([, v]) => v)).filter(Number.isFinite);
  const max = niceMax(Math.max(0, ...all));
  const x = (t: number) => left + ((t - range[0]) / (range[1] - range[0] || 1)) * w;
  const y = (v: number) => top + h - (v / max) * h;
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const yy = y(max * f);
    return `<line x1="${left}" x2="${left + w}" y1="${yy}" y2="${yy}" class="grid"/><text x="${left - 6}" y="${yy + 4}" class="axis" text-anchor="end">${esc(formatValue(max * f, unit))}</text>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const t = range[0] + f * (range[1] - range[0]);
    const label = new Date(t * 1000).toISOString().slice(11, 16);
    const anchor = f === 0 ? 'start' : f === 1 ? 'end' : 'middle';
    return `<text x="${x(t)}" y="${height - 4}" class="axis" text-anchor="${anchor}">${label}</text>`;
  });
  const lines = d.series.map((s, i) => {
    const segments: string[] = [];
    let current: string[] = [];
    for (const [t, v] of s.values) {
      if (Number.isFinite(v)) current.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
      else if (current.length) {
        segments.push(current.join(' '));
        current = [];
      }
    }
    if (current.length) segments.push(current.join(' '));
    return segments
      .map((pts) => `<polyline points="${pts}" stroke="${COLORS[i % COLORS.length]}" class="line"/>`)
      .join('');
  });
  return `<svg width="${width}" height="${height}">${grid.join('')}${ticks.join('')}${lines.join('')}</svg>`;
}

function panelHtml(d: PanelData, range: [number, number]): string {
  const g = d.panel.gridPos;
  const width = g.w * CELL - 8;
  const height = g.h * ROW - 8;
  const style = `left:${g.x * CELL}px;top:${g.y * ROW}px;width:${width}px;height:${height}px`;
  if (d.panel.type === 'row') return `<div class="row" style="${style}">${esc(d.panel.title)}</div>`;
  const legend = d.series
    .map((s, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(s.name)}</span>`)
    .join('');
  const empty = d.series.length === 0 ? '<div class="empty">No data</div>' : '';
  return `<div class="panel" style="${style}"><div class="title">${esc(d.panel.title)}</div>${empty}${chartSvg(d, width - 12, height - 58, range)}<div class="legend">${legend}</div></div>`;
}

/**
 * The dashboard as an HTML page: each panel where its gridPos puts it in Grafana's 24-column grid,
 * a line per series over `range` (seconds), with the alert rules' states underneath.
 */
export function dashboardHtml(opts: {
  title: string;
  subtitle: string;
  panels: PanelData[];
  range: [number, number];
  alerts: { name: string; state: string }[];
}): string {
  const bottom = Math.max(...opts.panels.map((p) => p.panel.gridPos.y + p.panel.gridPos.h));
  const alerts = opts.alerts
    .map((a) => `<span class="alert ${a.state}">${esc(a.name)}: ${a.state}</span>`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(opts.title)}</title><style>
body{margin:0;background:#111217;color:#ccccdc;font:12px/1.3 Inter,Helvetica,Arial,sans-serif}
header{padding:10px 16px;font-size:16px}header small{color:#8e8e9e;font-size:12px;margin-left:12px}
.grid-area{position:relative;margin:0 8px;height:${bottom * ROW}px;width:${24 * CELL}px}
.panel{position:absolute;background:#181b1f;border:1px solid #2a2d33;border-radius:3px;padding:6px;box-sizing:border-box}
.row{position:absolute;font-size:14px;font-weight:600;padding-top:8px}
.title{font-weight:600;margin-bottom:4px}.empty{position:absolute;top:45%;width:95%;text-align:center;color:#8e8e9e}
.legend{display:flex;flex-wrap:wrap;gap:2px 10px;max-height:30px;overflow:hidden;color:#aeaebe;font-size:11px}
.legend i{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
svg .grid{stroke:#2a2d33}svg .axis{fill:#8e8e9e;font-size:10px}svg .line{fill:none;stroke-width:1.5}
footer{padding:8px 16px;display:flex;flex-wrap:wrap;gap:6px}.alert{padding:2px 6px;border-radius:3px;background:#22252b}
.alert.firing{background:#c4162a;color:#fff}.alert.pending{background:#a5771b;color:#fff}
</style></head><body><header>${esc(opts.title)}<small>${esc(opts.subtitle)}</small></header>
<div class="grid-area">${opts.panels.map((p) => panelHtml(p, opts.range)).join('')}</div>
<footer>${alerts}</footer></body></html>`;
}
