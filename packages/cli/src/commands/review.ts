import { writeFile } from 'node:fs/promises';
import {
  FleetError,
  FleetHttpClient,
  type ReviewStatusView,
  type ReviewStreamEvent,
} from '@agent-fleet/client/http';
import { SingleBar } from 'cli-progress';
import type { Io } from './keys.ts';
import {
  gatewayCredentials,
  type ReviewOptions,
  reportTarget,
  reviewInput,
  UsageError,
} from './review-options.ts';

/** Exit codes: 0 the run completed and its report was written; 1 it failed or was cancelled elsewhere. */
const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

const stdio: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `fleet review [paths...] --checklist checklist.yaml --as <user>`: starts a review run through the
 * gateway (files under `paths` uploaded with it, `--docs` docIds, or a `--tenant`/`--prefix`
 * selection), shows its progress (documents/min, ETA) from the run's event stream, and writes the
 * report to disk when it completes. Ctrl-C cancels the run through the API and exits 130; a second
 * Ctrl-C exits at once.
 */
export async function reviewCommand(
  paths: string[],
  opts: ReviewOptions,
  io: Io = stdio,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  let api: FleetHttpClient;
  let target: ReturnType<typeof reportTarget>;
  try {
    target = reportTarget(opts);
    api = new FleetHttpClient(gatewayCredentials(opts, env));
    const input = await reviewInput(paths, opts);
    const { reviewId, scheduleId } = await api.reviews.create(input);
    io.err(`review ${reviewId} started${scheduleId ? ` (schedule ${scheduleId}, cron ${opts.cron})` : ''}`);
    return await follow(api, reviewId, target, opts, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`fleet review: ${err.message}`);
      return EXIT.usage;
    }
    io.err(`fleet review: ${describe(err)}`);
    return EXIT.failed;
  }
}

/** Follows the run to its end with a progress bar; Ctrl-C cancels it. */
async function follow(
  api: FleetHttpClient,
  reviewId: string,
  target: ReturnType<typeof reportTarget>,
  opts: ReviewOptions,
  io: Io,
): Promise<number> {
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(EXIT.interrupted);
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  const progress = new Progress(opts.progress);
  try {
    let last: ReviewStatusView | undefined;
    try {
      for await (const e of api.reviews.stream(reviewId, { signal: stop.signal, lastEventId: '0-0' }))
        progress.see(e);
    } catch (err) {
      if (!stop.signal.aborted) throw err;
    }
    progress.stop();
    if (stop.signal.aborted) return await cancel(api, reviewId, io);
    last = (await api.reviews.get(reviewId)) ?? undefined;
    if (last?.status !== 'completed') {
      io.err(`review ${reviewId} ${last?.status ?? 'vanished'}${last?.error ? `: ${last.error}` : ''}`);
      return EXIT.failed;
    }
    const path = target.path(reviewId);
    const report =
      target.format === 'json'
        ? `${JSON.stringify(await api.reviews.report(reviewId), null, 2)}\n`
        : await api.reviews.report(reviewId, { format: target.format });
    await writeFile(path, report);
    io.out(summary(last, path));
    return EXIT.ok;
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
  }
}

async function cancel(api: FleetHttpClient, reviewId: string, io: Io): Promise<number> {
  try {
    const s = await api.reviews.cancel(reviewId);
    io.err(
      `cancelled review ${reviewId} after ${s.documents.done} of ${s.documents.total} documents; ` +
        `what was recorded is kept (resume: POST /v1/reviews/${reviewId}/resume)`,
    );
  } catch (err) {
    // It ended on its own meanwhile (409), or the gateway is away: say so, still interrupted.
    io.err(`interrupted; review ${reviewId} was not cancelled: ${describe(err)}`);
  }
  return EXIT.interrupted;
}

function summary(s: ReviewStatusView, path: string): string {
  const d = s.documents;
  const c = s.counts;
  return (
    `review ${s.reviewId} completed: ${d.reviewed} of ${d.total} documents reviewed` +
    `${d.not_permitted ? `, ${d.not_permitted} not permitted` : ''}${d.not_found ? `, ${d.not_found} not found` : ''}` +
    `${d.failed ? `, ${d.failed} failed` : ''}; ${c.compliant} compliant, ${c.non_compliant} non-compliant, ` +
    `${c.not_applicable} not applicable, ${c.unclear} unclear; ${s.tokens.total} tokens; report: ${path}`
  );
}

function describe(err: unknown): string {
  return err instanceof FleetError ? `${err.message} (${err.code})` : (err as Error).message;
}

/**
 * The progress bar: documents done of total, documents per minute since the first settled one, and
 * the ETA at that pace. On a terminal it redraws in place; otherwise (a log, a test) it prints a line
 * every few seconds.
 */
class Progress {
  readonly #bar: SingleBar | undefined;
  #started = false;
  #firstAt = 0;
  #firstDone = 0;

  constructor(enabled: boolean) {
    this.#bar = enabled
      ? new SingleBar({
          format: 'reviewing [{bar}] {value}/{total} documents | {rate} docs/min | ETA {left} | {verdicts}',
          hideCursor: true,
          noTTYOutput: true,
          notTTYSchedule: 2000,
          stream: process.stderr,
        })
      : undefined;
  }

  see(e: ReviewStreamEvent): void {
    const counts =
      e.type === 'snapshot'
        ? { documents: e.review.documents, verdicts: e.review.counts }
        : e.type === 'progress'
          ? e
          : undefined;
    if (!counts || !this.#bar) return;
    const { done, total } = counts.documents;
    const now = Date.now();
    if (done > 0 && this.#firstAt === 0) {
      this.#firstAt = now;
      this.#firstDone = done;
    }
    const minutes = (now - this.#firstAt) / 60_000;
    const rate = minutes > 0 ? (done - this.#firstDone) / minutes : 0;
    const payload = {
      rate: rate > 0 ? rate.toFixed(1) : '-',
      left: rate > 0 ? duration(((total - done) / rate) * 60) : '-',
      verdicts: `${counts.verdicts.non_compliant} non-compliant, ${counts.verdicts.unclear} unclear`,
    };
    if (!this.#started) {
      this.#bar.start(total, done, payload);
      this.#started = true;
    } else {
      this.#bar.setTotal(total);
      this.#bar.update(done, payload);
    }
  }

  stop(): void {
    if (this.#started) this.#bar?.stop();
    this.#started = false;
  }
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
