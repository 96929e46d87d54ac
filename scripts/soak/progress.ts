import { MultiBar, type SingleBar } from 'cli-progress';
import type { LedgerCounts } from './ledger.ts';

/** What the progress display shows at a moment of the run. */
export interface ProgressState {
  phase: 'load' | 'drain';
  elapsedS: number;
  totalS: number;
  counts: LedgerCounts;
  faults: number;
  plannedFaults: number;
}

export interface Progress {
  update(state: ProgressState): void;
  /** A line above the bar on a terminal (restart lines, faults), or a plain line otherwise. */
  log(line: string): void;
  stop(): void;
}

/** How often a plain progress line is written when stdout is not a terminal. */
const PLAIN_EVERY_MS = 10_000;

/**
 * Live progress: a cli-progress bar over the run's time with the ledger's running totals on a
 * terminal; on anything else (CI, a test's pipe), one plain line every 10 s, and log lines as is.
 */
export function createProgress(stream: NodeJS.WriteStream = process.stdout): Progress {
  return stream.isTTY ? barProgress(stream) : plainProgress(stream);
}

const describe = (s: ProgressState) =>
  `sent ${s.counts.sent} accepted ${s.counts.accepted} refused ${s.counts.refused} answered ${s.counts.answered} failed ${s.counts.failed} faults ${s.faults}/${s.plannedFaults}`;

function barProgress(stream: NodeJS.WriteStream): Progress {
  const multi = new MultiBar({
    stream,
    format: '{phase} [{bar}] {value}/{total} s | {stats}',
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 1,
  });
  let bar: SingleBar | undefined;
  return {
    update(s) {
      const payload = { phase: s.phase.padEnd(5), stats: describe(s) };
      if (!bar) bar = multi.create(s.totalS, s.elapsedS, payload);
      bar.setTotal(s.totalS);
      bar.update(Math.min(s.elapsedS, s.totalS), payload);
    },
    log: (line) => multi.log(`${line}\n`),
    stop: () => multi.stop(),
  };
}

function plainProgress(stream: NodeJS.WriteStream): Progress {
  let last = 0;
  return {
    update(s) {
      if (Date.now() - last < PLAIN_EVERY_MS) return;
      last = Date.now();
      stream.write(`[${s.phase} ${Math.round(s.elapsedS)}/${s.totalS} s] ${describe(s)}\n`);
    },
    log: (line) => stream.write(`${line}\n`),
    stop: () => {},
  };
}

/**
 * Turns what libraries print straight to the console into one line each, repeats folded, so the
 * progress display stays readable: BullMQ prints a queue's connection errors with console.error
 * when the queue has no 'error' listener, as the SDK's queues do while redis-server is down.
 * Returns a function that restores console.error.
 */
export function foldConsoleErrors(log: (line: string) => void): () => void {
  const original = console.error;
  let last = '';
  let repeats = 0;
  const flush = () => {
    if (repeats > 0) log(`console.error: (the same ${repeats} more times)`);
    repeats = 0;
  };
  console.error = (...args: unknown[]) => {
    const text = args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
    const line = text.split('\n')[0] ?? '';
    if (line === last) {
      repeats++;
      return;
    }
    flush();
    last = line;
    log(`console.error: ${line}`);
  };
  return () => {
    flush();
    console.error = original;
  };
}
