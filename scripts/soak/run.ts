import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@agent-fleet/core';
import { createPrng } from '@agent-fleet/llm-sim';
import { checkLedger } from './check.ts';
import { diagnose } from './diagnose.ts';
import { FaultRunner } from './faults.ts';
import { type InspectTarget, readFleetView, readJobs } from './inspect.ts';
import { Ledger } from './ledger.ts';
import { LoadGenerator, makeUsers } from './load.ts';
import type { SoakOptions } from './options.ts';
import { createProgress, foldConsoleErrors, type Progress } from './progress.ts';
import { type SoakReport, summarizeFaults } from './report.ts';
import { planFaults } from './schedule.ts';
import { httpSender, sdkSender } from './senders.ts';
import { type SoakStack, startSoakStack } from './stack.ts';
import { CompletionWatcher } from './watcher.ts';

/** Thrown when the run was interrupted (SIGINT) before its verdict. */
export class SoakInterrupted extends Error {}

/**
 * One soak run: start the embedded fleet, send messages at the given rate while the fault
 * schedule kills processes and turns simulator knobs, stop sending, let the fleet drain (bounded),
 * then check the client's ledger against Redis and Postgres. The fleet is stopped and its
 * directory removed (unless `keep`) whatever happens.
 */
export async function runSoak(opts: SoakOptions, signal: AbortSignal): Promise<SoakReport> {
  const progress = createProgress();
  const restoreConsole = foldConsoleErrors(progress.log);
  try {
    const stack = await startSoakStack({
      workers: opts.workers,
      seed: opts.seed,
      keep: opts.keep,
      log: progress.log,
    });
    let keepLogs = false;
    try {
      progress.log(
        `soak: fleet up in ${stack.dir} (gateway ${stack.gatewayUrl}, ${stack.workers.length} workers, ${stack.sims.length} simulators); seed ${opts.seed}`,
      );
      const report = await drive(opts, stack, progress, signal);
      keepLogs = !report.verdict.ok;
      return report;
    } finally {
      await stack.stop({ keepLogs });
      if (keepLogs && !opts.keep) progress.log(`soak: the services' logs are kept in ${stack.dir}/logs`);
    }
  } finally {
    progress.stop();
    restoreConsole();
  }
}

async function drive(
  opts: SoakOptions,
  stack: SoakStack,
  progress: Progress,
  signal: AbortSignal,
): Promise<SoakReport> {
  const durationMs = Math.round(opts.minutes * 60_000);
  const plan = planFaults({
    seed: opts.seed,
    durationMs,
    everyMs: opts.faultEvery * 1000,
    kinds: opts.faults,
    workers: stack.workers,
    sims: stack.sims,
  });
  const ledger = new Ledger();
  const rng = createPrng((opts.seed ^ 0x9e3779b9) >>> 0);
  const http = httpSender(stack.gatewayUrl, stack.jwtSecret);
  const sdk = sdkSender(stack.redisUrl, stack.env);
  const load = new LoadGenerator({
    users: makeUsers(opts.users, opts.sdkShare, rng),
    rate: opts.rate,
    rng,
    ledger,
    senders: { http: http.send, sdk: sdk.send },
    runTag: opts.seed.toString(36),
  });
  const watcher = new CompletionWatcher({ redisUrl: stack.redisUrl, namespace: stack.namespace, ledger });
  const faults = new FaultRunner({
    plan,
    stack,
    ledger,
    target: inspectTarget(stack),
    outageMs: opts.outage * 1000,
    log: progress.log,
  });
  const loadStartedAt = Date.now();
  const drainMs = opts.drain * 1000;
  let phase: { name: 'load' | 'drain'; since: number; totalS: number } = {
    name: 'load',
    since: loadStartedAt,
    totalS: Math.round(durationMs / 1000),
  };
  const ticker = setInterval(() => {
    progress.update({
      phase: phase.name,
      elapsedS: Math.round((Date.now() - phase.since) / 1000),
      totalS: phase.totalS,
      counts: ledger.counts(),
      faults: faults.injected(),
      plannedFaults: plan.length,
    });
  }, 1000);
  watcher.start();
  try {
    await Promise.all([load.run(loadStartedAt + durationMs, signal), faults.run(loadStartedAt, signal)]);
    const drainStartedAt = Date.now();
    phase = { name: 'drain', since: drainStartedAt, totalS: opts.drain };
    progress.log(
      `soak: load stopped after ${Math.round((drainStartedAt - loadStartedAt) / 1000)} s; draining (at most ${opts.drain} s)`,
    );
    load.resolveDeadline = drainStartedAt + drainMs;
    await drain(load, watcher, drainStartedAt + drainMs, signal);
    if (signal.aborted) throw new SoakInterrupted('interrupted');
    const drainSeconds = Math.round((Date.now() - drainStartedAt) / 1000);
    return await verdictReport(opts, stack, ledger, faults, {
      loadStartedAt,
      loadSeconds: Math.round((drainStartedAt - loadStartedAt) / 1000),
      drainSeconds,
      skippedTicks: load.skipped,
    });
  } finally {
    clearInterval(ticker);
    await watcher.stop();
    http.close();
    await sdk.close();
  }
}

/** Waits until every message has its answer and every accepted turn is final, or the deadline. */
async function drain(load: LoadGenerator, watcher: CompletionWatcher, deadline: number, signal: AbortSignal) {
  const settled = load.settle();
  let sendsDone = false;
  void settled.then(() => {
    sendsDone = true;
  });
  while (!signal.aborted && Date.now() < deadline) {
    // Taken before the poll: a message accepted while the poll runs is not in it.
    const allSent = sendsDone;
    const open = await watcher.poll().catch(() => Number.POSITIVE_INFINITY);
    if (allSent && open === 0) return;
    await sleep(500);
  }
  await settled;
}

/** Where the fleet keeps what the verdict reads. */
function inspectTarget(stack: SoakStack): InspectTarget {
  return {
    redisUrl: stack.redisUrl,
    databaseUrl: stack.databaseUrl,
    namespace: stack.namespace,
    partitions: loadConfig(stack.env).PARTITIONS,
  };
}

async function verdictReport(
  opts: SoakOptions,
  stack: SoakStack,
  ledger: Ledger,
  faults: FaultRunner,
  run: { loadStartedAt: number; loadSeconds: number; drainSeconds: number; skippedTicks: number },
): Promise<SoakReport> {
  const target = inspectTarget(stack);
  const view = await readFleetView(target, ledger);
  const verdict = checkLedger(ledger.entries, view);
  const suspects = verdict.problems.flatMap((p) =>
    p.turnId ? [{ userId: p.userId, turnId: p.turnId }] : [],
  );
  const jobs = await readJobs(target, suspects);
  const { report: _file, ...options } = opts;
  return {
    options,
    loadStartedAt: new Date(run.loadStartedAt).toISOString(),
    loadSeconds: run.loadSeconds,
    drainSeconds: run.drainSeconds,
    skippedTicks: run.skippedTicks,
    verdict,
    faults: summarizeFaults(faults.records, view.rows, run.loadStartedAt),
    diagnoses: diagnose(verdict.problems, view, jobs, ledger),
  };
}
