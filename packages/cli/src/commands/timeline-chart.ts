import type { SimulationResult, TimelinePoint } from '@agent-fleet/scaling';
import asciichart from 'asciichart';

type Series = { label: string; values: number[] };

/** The highest value per bucket of a timeline, `buckets` of them: peaks survive the squeeze. */
function downsample(timeline: TimelinePoint[], buckets: number, field: 'backlog' | 'replicas'): number[] {
  const size = Math.max(1, Math.ceil(timeline.length / buckets));
  const out: number[] = [];
  for (let i = 0; i < timeline.length; i += size) {
    out.push(Math.max(...timeline.slice(i, i + size).map((p) => p[field])));
  }
  return out;
}

/** Pads the shorter run's series with its last value so both span the same time. */
function aligned(a: number[], b: number[]): [number[], number[]] {
  const n = Math.max(a.length, b.length);
  const pad = (xs: number[]) => [...xs, ...Array.from({ length: n - xs.length }, () => xs.at(-1) ?? 0)];
  return [pad(a), pad(b)];
}

function panels(real: SimulationResult, ideal: SimulationResult, width: number) {
  const field = (f: 'backlog' | 'replicas') =>
    aligned(downsample(real.timeline, width, f), downsample(ideal.timeline, width, f));
  return { backlog: field('backlog'), replicas: field('replicas') };
}

/**
 * Two terminal charts over the run's time, the policy against the ideal autoscaler: the backlog,
 * and the workers asked for. Each column is the highest value of its slice of time.
 */
export function terminalChart(real: SimulationResult, ideal: SimulationResult, width: number): string {
  const { backlog, replicas } = panels(real, ideal, width);
  const minutes = (Math.max(real.timeline.length, ideal.timeline.length) / 60).toFixed(1);
  const plot = (values: number[][], digits: number) =>
    asciichart.plot(values, {
      height: 10,
      colors: [asciichart.blue, asciichart.green],
      format: (x) => x.toFixed(digits).padStart(8),
    });
  return [
    `backlog (turns waiting or running)   ${asciichart.colored('━ policy', asciichart.blue)}  ${asciichart.colored('━ ideal', asciichart.green)}`,
    plot(backlog, 0),
    '',
    'workers',
    plot(replicas, 0),
    `${' '.repeat(9)}0 … ${minutes} min`,
  ].join('\n');
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const W = 900;
const H = 220;
const M = { left: 64, right: 16, top: 28, bottom: 28 };

function svgPanel(title: string, series: Series[], y0: number, seconds: number): string {
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const n = Math.max(...series.map((s) => s.values.length));
  const x = (i: number) => M.left + (i / Math.max(1, n - 1)) * (W - M.left - M.right);
  const y = (v: number) => y0 + M.top + (1 - v / max) * (H - M.top - M.bottom);
  const styles = [
    'stroke="#1f6feb" stroke-width="2"',
    'stroke="#2da44e" stroke-width="2" stroke-dasharray="6 4"',
  ];
  const lines = series.map(
    (s, k) =>
      `<polyline fill="none" ${styles[k]} points="${s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`,
  );
  const legend = series.map(
    (s, k) =>
      `<text x="${W - M.right - 170 + k * 90}" y="${y0 + 18}" fill="${k === 0 ? '#1f6feb' : '#2da44e'}">${s.label}</text>`,
  );
  const ticks = [0, 0.25, 0.5, 0.75, 1].map(
    (f) =>
      `<text x="${x(f * (n - 1)).toFixed(1)}" y="${y0 + H - 8}" text-anchor="middle">${((f * seconds) / 60).toFixed(1)} min</text>`,
  );
  return [
    `<text x="${M.left}" y="${y0 + 18}" font-weight="bold">${title}</text>`,
    `<line x1="${M.left}" y1="${y(0)}" x2="${W - M.right}" y2="${y(0)}" stroke="#888"/>`,
    `<line x1="${M.left}" y1="${y(max)}" x2="${M.left}" y2="${y(0)}" stroke="#888"/>`,
    `<text x="${M.left - 6}" y="${y(max) + 4}" text-anchor="end">${Math.round(max).toLocaleString('en')}</text>`,
    `<text x="${M.left - 6}" y="${y(0) + 4}" text-anchor="end">0</text>`,
    ...ticks,
    ...lines,
    ...legend,
  ].join('\n');
}

/** The same two charts as an SVG document (a point per horizontal pixel at most), titled `title`. */
export function svgChart(real: SimulationResult, ideal: SimulationResult, title: string): string {
  const { backlog, replicas } = panels(real, ideal, W - M.left - M.right);
  const seconds = Math.max(real.timeline.length, ideal.timeline.length);
  const series = (pair: [number[], number[]]): Series[] => [
    { label: 'policy', values: pair[0] },
    { label: 'ideal', values: pair[1] },
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${2 * H}" width="${W}" height="${2 * H}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeHtml(title)}</title>`,
    '<rect width="100%" height="100%" fill="white"/>',
    svgPanel('backlog (turns waiting or running)', series(backlog), 0, seconds),
    svgPanel('workers', series(replicas), H, seconds),
    '</svg>',
  ].join('\n');
}

/** A page with the run's description, its figures and the SVG chart. */
export function htmlReport(title: string, text: string, svg: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="font-family: sans-serif; max-width: 940px; margin: 2em auto">
<h1>${escapeHtml(title)}</h1>
<pre>${escapeHtml(text)}</pre>
${svg}
</body></html>
`;
}
