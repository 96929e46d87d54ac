import type { FleetSnapshot, RecoveryReport, WorkerHeartbeat } from '@agent-fleet/core';
import type { RecoveryReports, WorkBacklog, WorkerHeartbeats } from '@agent-fleet/turns';

/** The slowest running turns a snapshot lists at most. */
export const SNAPSHOT_TURNS = 50;

export interface FleetViewSources {
  backlog: Pick<WorkBacklog, 'queues' | 'measure' | 'oldestWaiting'>;
  heartbeats: Pick<WorkerHeartbeats, 'list'>;
  reports: Pick<RecoveryReports, 'read'>;
}

/**
 * The whole fleet as Redis knows it, for `GET /v1/admin/fleet` and `fleet top`: the queues from the
 * backlog reading KEDA scales on, the workers from their heartbeats (each sums its own pool and
 * turns; this adds the workers up), and the last recovery sweep. Any gateway answers the same.
 */
export class FleetView {
  readonly #s: FleetViewSources;

  constructor(sources: FleetViewSources) {
    this.#s = sources;
  }

  async snapshot(now = Date.now()): Promise<FleetSnapshot> {
    const { backlog, heartbeats, reports } = this.#s;
    const [measured, oldest, beats, recovery] = await Promise.all([
      backlog.measure(now),
      backlog.oldestWaiting(now),
      heartbeats.list(now),
      reports.read(),
    ]);
    return {
      at: now,
      queues: measured.map((q, i) => ({
        queue: q.queue,
        kind: backlog.queues[i]!.kind,
        backlog: q.total,
        waiting: q.waiting,
        prioritized: q.prioritized,
        delayedReady: q.delayedReady,
        active: q.active,
        oldestWaitingSeconds: oldest[i]!.seconds,
      })),
      workers: beats.map((b) => ({
        workerId: b.workerId,
        host: b.host,
        pid: b.pid,
        startedAt: b.startedAt,
        lastSeenAt: b.at,
        slots: b.slots,
        turnsInFlight: b.turns.length,
      })),
      llm: llmServers(beats),
      turns: slowestTurns(beats, now),
      tenants: tenants(beats),
      recovery,
    };
  }

  /** The last sweep's report (null when no sweep ran lately). */
  recovery(): Promise<RecoveryReport | null> {
    return this.#s.reports.read();
  }
}

/** Per minute, from counts over a heartbeat's window. */
const perMinute = (n: number, b: WorkerHeartbeat) => (n * 60) / b.windowSeconds;

/**
 * One total per key over the entries of every heartbeat: `start` opens a key's total from its first
 * entry, `add` folds each entry (of heartbeat `b`) into it.
 */
function sumByKey<E, T>(
  beats: WorkerHeartbeat[],
  entriesOf: (b: WorkerHeartbeat) => E[],
  keyOf: (e: E) => string,
  start: (e: E) => T,
  add: (total: T, e: E, b: WorkerHeartbeat) => void,
): T[] {
  const totals = new Map<string, T>();
  for (const b of beats)
    for (const e of entriesOf(b)) {
      const total = totals.get(keyOf(e)) ?? start(e);
      add(total, e, b);
      totals.set(keyOf(e), total);
    }
  return [...totals.values()];
}

/** Each LLM server summed over the workers' pools: load now, rates and TTFT over the last minute. */
function llmServers(beats: WorkerHeartbeat[]): FleetSnapshot['llm'] {
  const sums = sumByKey(
    beats,
    (b) => b.llm,
    (s) => s.server,
    (s) => ({
      server: s.server,
      inFlight: 0,
      openIn: 0,
      workers: 0,
      serverWaiting: 0,
      kvCacheUsage: 0,
      requestsPerMinute: 0,
      errorsPerMinute: 0,
      ttftMs: null,
      cacheHitRate: null,
      tokensPerMinute: 0,
      ttft: 0,
      ttftN: 0,
      prompt: 0,
      cached: 0,
    }),
    (t, s, b) => {
      t.inFlight += s.inFlight;
      t.openIn += s.circuit === 'open' ? 1 : 0;
      t.workers += 1;
      t.serverWaiting = Math.max(t.serverWaiting, s.serverWaiting);
      t.kvCacheUsage = Math.max(t.kvCacheUsage, s.kvCacheUsage);
      t.requestsPerMinute += perMinute(s.requests, b);
      t.errorsPerMinute += perMinute(s.errors, b);
      t.tokensPerMinute += perMinute(s.promptTokens + s.completionTokens, b);
      t.ttft += s.ttftSeconds;
      t.ttftN += s.ttftCount;
      t.prompt += s.promptTokens;
      t.cached += s.cachedTokens;
    },
  );
  return sums.map(({ ttft, ttftN, prompt, cached, ...s }) => ({
    ...s,
    ttftMs: ttftN > 0 ? (ttft / ttftN) * 1000 : null,
    cacheHitRate: prompt > 0 ? cached / prompt : null,
  }));
}

/** The longest-running turns across the fleet, with how long each has been in its stage. */
function slowestTurns(beats: WorkerHeartbeat[], now: number): FleetSnapshot['turns'] {
  return beats
    .flatMap((b) =>
      b.turns.map((t) => ({
        ...t,
        workerId: b.workerId,
        runningSeconds: Math.max(0, now - t.startedAt) / 1000,
        stageSeconds: Math.max(0, now - t.stageStartedAt) / 1000,
      })),
    )
    .sort((a, b) => b.runningSeconds - a.runningSeconds)
    .slice(0, SNAPSHOT_TURNS);
}

/** Tenants by tokens per minute, summed over the workers. */
function tenants(beats: WorkerHeartbeat[]): FleetSnapshot['tenants'] {
  const sums = sumByKey<WorkerHeartbeat['tenants'][number], FleetSnapshot['tenants'][number]>(
    beats,
    (b) => b.tenants,
    (t) => t.tenant,
    (t) => ({ tenant: t.tenant, tokensPerMinute: 0, promptTokensPerMinute: 0, completionTokensPerMinute: 0 }),
    (sum, t, b) => {
      sum.promptTokensPerMinute += perMinute(t.promptTokens, b);
      sum.completionTokensPerMinute += perMinute(t.completionTokens, b);
      sum.tokensPerMinute = sum.promptTokensPerMinute + sum.completionTokensPerMinute;
    },
  );
  return sums.sort((a, b) => b.tokensPerMinute - a.tokensPerMinute);
}
