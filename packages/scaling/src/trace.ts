/** One point of a load trace: from `at` seconds on, messages arrive at `rate` per second. */
export interface TracePoint {
  at: number;
  rate: number;
}

/** A load trace: seconds since its first point, rates linear between points, nothing after the last. */
export interface Trace {
  name: string;
  points: TracePoint[];
  /** Seconds from the first point to the last. */
  duration: number;
}

const CLOCK = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

function parseTime(cell: string, where: string): number {
  const clock = CLOCK.exec(cell);
  if (clock) return Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3] ?? 0);
  const seconds = Number(cell);
  if (cell === '' || !Number.isFinite(seconds) || seconds < 0)
    throw new Error(`${where}: time "${cell}" is neither seconds nor HH:MM[:SS]`);
  return seconds;
}

/**
 * Reads a trace CSV: `time,messages_per_second` rows, time in seconds or as a clock time
 * (`07:30`, `07:30:15`), increasing; a header row, `#` comments and blank lines are skipped.
 */
export function parseTrace(text: string, name: string): Trace {
  const lines = text
    .split(/\r?\n/)
    .map((raw, i) => ({
      where: `${name} line ${i + 1}`,
      cells: raw
        .trim()
        .split(',')
        .map((c) => c.trim()),
    }))
    .filter(({ cells }) => cells[0] !== '' && !cells[0]!.startsWith('#'));
  if (lines.length > 0 && Number.isNaN(Number(lines[0]!.cells[1]))) lines.shift();
  const rows: TracePoint[] = [];
  for (const { where, cells } of lines) {
    if (cells.length !== 2) throw new Error(`${where}: expected "time,messages_per_second"`);
    const rate = Number(cells[1]);
    if (cells[1] === '' || !Number.isFinite(rate) || rate < 0)
      throw new Error(`${where}: rate "${cells[1]}" is not a number ≥ 0`);
    const at = parseTime(cells[0]!, where);
    if (rows.length > 0 && at <= rows.at(-1)!.at) throw new Error(`${where}: time must increase`);
    rows.push({ at, rate });
  }
  if (rows.length < 2) throw new Error(`${name}: a trace needs at least two points`);
  const start = rows[0]!.at;
  const points = rows.map((p) => ({ at: p.at - start, rate: p.rate }));
  return { name, points, duration: points.at(-1)!.at };
}

/** The arrival rate at `t` seconds: linear between points, 0 outside the trace. */
export function rateAt(trace: Trace, t: number): number {
  const { points } = trace;
  if (t < 0 || t > trace.duration) return 0;
  let i = 1;
  while (i < points.length - 1 && points[i]!.at < t) i++;
  const a = points[i - 1]!;
  const b = points[i]!;
  return a.rate + ((b.rate - a.rate) * (t - a.at)) / (b.at - a.at);
}
