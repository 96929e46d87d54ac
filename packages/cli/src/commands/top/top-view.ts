import type { FleetSnapshot } from '@agent-fleet/core';
import { SECTIONS, type Section, type TopState } from './top-state.ts';

/** A table row: what it shows, what it sorts by (per column), and the text a filter matches. */
interface Row {
  cells: string[];
  keys: (number | string)[];
  match: string;
}

interface Table {
  title: string;
  columns: string[];
  rows: Row[];
}

const BOLD = '\x1b[1m';
const INVERSE = '\x1b[7m';
const RESET = '\x1b[0m';

export function duration(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const percent = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(0)}%`);

/** The sections' tables of a snapshot, unsorted and unfiltered. */
export function tables(s: FleetSnapshot): Record<Section, Table> {
  const ago = (at: number) => (s.at - at) / 1000;
  return {
    queues: {
      title: 'QUEUES',
      columns: ['queue', 'backlog', 'waiting', 'prio', 'due', 'active', 'oldest'],
      rows: s.queues.map((q) => ({
        cells: [
          q.queue,
          count(q.backlog),
          count(q.waiting),
          count(q.prioritized),
          count(q.delayedReady),
          count(q.active),
          duration(q.oldestWaitingSeconds),
        ],
        keys: [
          q.queue,
          q.backlog,
          q.waiting,
          q.prioritized,
          q.delayedReady,
          q.active,
          q.oldestWaitingSeconds,
        ],
        match: q.queue,
      })),
    },
    workers: {
      title: 'WORKERS',
      columns: ['worker', 'turns', 'slots', 'seen'],
      rows: s.workers.map((w) => ({
        cells: [w.workerId, count(w.turnsInFlight), count(w.slots), `${duration(ago(w.lastSeenAt))} ago`],
        keys: [w.workerId, w.turnsInFlight, w.slots, ago(w.lastSeenAt)],
        match: `${w.workerId} ${w.host}`,
      })),
    },
    llm: {
      title: 'LLM SERVERS (last minute)',
      columns: [
        'server',
        'in flight',
        'queued',
        'req/min',
        'err/min',
        'ttft',
        'cache hit',
        'tok/min',
        'circuit open',
      ],
      rows: s.llm.map((l) => ({
        cells: [
          l.server,
          count(l.inFlight),
          count(l.serverWaiting),
          count(l.requestsPerMinute),
          count(l.errorsPerMinute),
          l.ttftMs === null ? '-' : duration(l.ttftMs / 1000),
          percent(l.cacheHitRate),
          count(l.tokensPerMinute),
          `${l.openIn}/${l.workers}`,
        ],
        keys: [
          l.server,
          l.inFlight,
          l.serverWaiting,
          l.requestsPerMinute,
          l.errorsPerMinute,
          l.ttftMs ?? -1,
          l.cacheHitRate ?? -1,
          l.tokensPerMinute,
          l.openIn,
        ],
        match: l.server,
      })),
    },
    turns: {
      title: 'SLOWEST RUNNING TURNS',
      columns: ['turn', 'user', 'tenant', 'stage', 'in stage', 'worker', 'running', 'attempt'],
      rows: s.turns.map((t) => ({
        cells: [
          t.turnId,
          t.userId,
          t.tenant ?? '-',
          t.stage,
          duration(t.stageSeconds),
          t.workerId,
          duration(t.runningSeconds),
          String(t.attempt),
        ],
        keys: [
          t.turnId,
          t.userId,
          t.tenant ?? '',
          t.stage,
          t.stageSeconds,
          t.workerId,
          t.runningSeconds,
          t.attempt,
        ],
        match: `${t.turnId} ${t.userId} ${t.tenant ?? ''} ${t.stage} ${t.workerId}`,
      })),
    },
    tenants: {
      title: 'TENANTS (tokens, last minute)',
      columns: ['tenant', 'tok/min', 'prompt/min', 'completion/min'],
      rows: s.tenants.map((t) => ({
        cells: [
          t.tenant,
          count(t.tokensPerMinute),
          count(t.promptTokensPerMinute),
          count(t.completionTokensPerMinute),
        ],
        keys: [t.tenant, t.tokensPerMinute, t.promptTokensPerMinute, t.completionTokensPerMinute],
        match: t.tenant,
      })),
    },
  };
}

/** The most rows each section shows; the slowest turns take what is left of the screen. */
const ROW_CAPS: Record<Exclude<Section, 'turns'>, number> = { queues: 12, workers: 6, llm: 4, tenants: 5 };

export interface Frame {
  url: string;
  snapshot: FleetSnapshot | null;
  /** Why the last refresh failed, if it did. */
  error?: string;
  intervalSeconds: number;
  columns: number;
  rows: number;
}

/**
 * The screen of `fleet top`: a header, then every section as a table, sorted and filtered as the
 * state says, cut to the terminal's size. Pure: the same snapshot and state draw the same lines.
 */
export function renderTop(f: Frame, state: TopState): string[] {
  const lines = [...header(f, state)];
  if (!f.snapshot) return fit([...lines, '', 'waiting for the first answer...'], f);
  const all = tables(f.snapshot);
  const overhead = lines.length + SECTIONS.length * 3;
  // What the other sections take (a capped one says how many more it has on a line of its own).
  let left = f.rows - overhead;
  for (const section of SECTIONS) {
    if (section === 'turns') continue;
    const n = all[section].rows.length;
    left -= n > ROW_CAPS[section] ? ROW_CAPS[section] + 1 : n;
  }
  const turnsCap = Math.max(3, all.turns.rows.length > left ? left - 1 : left);
  for (const section of SECTIONS) {
    const cap = section === 'turns' ? turnsCap : ROW_CAPS[section];
    lines.push('', ...drawTable(all[section], section, state, cap));
  }
  return fit(lines, f);
}

function header(f: Frame, state: TopState): string[] {
  const s = f.snapshot;
  const time = s ? new Date(s.at).toISOString().slice(11, 19) : '--:--:--';
  const refresh = state.paused ? 'PAUSED' : `every ${f.intervalSeconds}s`;
  const lines = [
    `${BOLD}fleet top${RESET}  ${f.url}  ${time} UTC  ${refresh}${f.error ? `  ! ${f.error}` : ''}`,
  ];
  if (s) {
    const backlog = s.queues.reduce((n, q) => n + q.backlog, 0);
    const oldest = Math.max(0, ...s.queues.map((q) => q.oldestWaitingSeconds));
    const running = s.workers.reduce((n, w) => n + w.turnsInFlight, 0);
    const slots = s.workers.reduce((n, w) => n + w.slots, 0);
    const stuck = s.recovery
      ? `${s.recovery.stuck} (sweep ${duration((s.at - s.recovery.at) / 1000)} ago)`
      : '-';
    lines.push(
      `backlog ${count(backlog)}  oldest waiting ${duration(oldest)}  workers ${s.workers.length}  turns ${running}/${slots} slots  stuck users ${stuck}`,
    );
  }
  lines.push(
    state.editing !== null
      ? `filter: ${state.editing}_   (Enter keeps it, Esc clears it)`
      : `[tab] section  [s] sort  [r] reverse  [/] filter${state.filter ? ` "${state.filter}"` : ''}  [p] pause  [q] quit`,
  );
  return lines;
}

function drawTable(t: Table, section: Section, state: TopState, cap: number): string[] {
  const filter = (state.editing ?? state.filter).toLowerCase();
  const { column, desc } = state.sort[section];
  const rows = t.rows
    .filter((r) => !filter || r.match.toLowerCase().includes(filter))
    .sort(
      (a, b) =>
        compare(a.keys[column]!, b.keys[column]!) * (desc ? -1 : 1) || compare(a.keys[0]!, b.keys[0]!),
    );
  const shown = rows.slice(0, cap);
  const widths = t.columns.map((c, i) => Math.max(c.length, ...shown.map((r) => r.cells[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const sortedBy = `sorted by ${t.columns[column]} ${desc ? 'desc' : 'asc'}`;
  const title = `${t.title}  ${rows.length}${rows.length !== t.rows.length ? ` of ${t.rows.length}` : ''}  ${sortedBy}`;
  return [
    state.focus === section ? `${INVERSE}${title}${RESET}` : `${BOLD}${title}${RESET}`,
    `${BOLD}${line(t.columns)}${RESET}`,
    ...shown.map((r) => line(r.cells)),
    ...(rows.length > cap ? [`… ${rows.length - cap} more`] : []),
  ];
}

function compare(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

/** Cut to the screen: at most `rows` lines, each at most `columns` visible characters. */
function fit(lines: string[], f: Frame): string[] {
  return lines.slice(0, f.rows).map((l) => truncateVisible(l, f.columns));
}

function truncateVisible(line: string, columns: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      out += line.slice(i, end + 1);
      i = end;
      continue;
    }
    if (visible >= columns) continue;
    out += line[i];
    visible++;
  }
  return out;
}
