import type { TokenUsage, UsageKind, UsageLine } from '@agent-fleet/core';
import type { Pool } from 'pg';

/** A turn's usage as recorded: the totals so far of each kind of call and model, read from its hot record. */
export interface TurnUsageRecord {
  turnId: string;
  userId: string;
  tenant: string;
  lines: UsageLine[];
}

/** One call of a review run, recorded alone (`callId` makes writing it twice write it once). */
export interface CallUsageRecord extends TokenUsage {
  callId: string;
  kind: UsageKind;
  model: string;
  tenant: string;
  userId: string | null;
}

export const USAGE_GROUPS = ['day', 'user', 'model'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageQuery {
  tenant?: string;
  userId?: string;
  /** Inclusive, epoch ms. */
  from: number;
  /** Exclusive, epoch ms. */
  to: number;
  groupBy: UsageGroup;
}

export interface UsageRow extends TokenUsage {
  /** The day (`YYYY-MM-DD`, UTC), the userId ('' for usage of no user) or the model. */
  key: string;
  totalTokens: number;
  calls: number;
}

export interface UsageReport {
  groupBy: UsageGroup;
  rows: UsageRow[];
  total: Omit<UsageRow, 'key'>;
}

/**
 * The SQL of upserting ledger rows from `unnest` over 10 arrays starting at parameter `$first`
 * (see {@link ledgerParams}). A row takes the larger of what it holds and what it is given, field
 * by field: turns write their totals so far, which only grow, so a write repeated after a crash or
 * arriving late never lowers or doubles a count.
 */
export function ledgerUpsert(first: number): string {
  const p = (i: number) => `$${first + i}`;
  return `INSERT INTO usage_ledger (source, source_id, kind, model, tenant, user_id, prompt_tokens,
            completion_tokens, cached_tokens, calls)
     SELECT x.source, x.source_id, x.kind, x.model, x.tenant, x.user_id, x.p, x.c, x.k, x.n
     FROM unnest(${p(0)}::text[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::text[],
                 ${p(5)}::text[], ${p(6)}::bigint[], ${p(7)}::bigint[], ${p(8)}::bigint[], ${p(9)}::int[])
          AS x(source, source_id, kind, model, tenant, user_id, p, c, k, n)
     ON CONFLICT (source, source_id, kind, model) DO UPDATE SET
       prompt_tokens = GREATEST(usage_ledger.prompt_tokens, EXCLUDED.prompt_tokens),
       completion_tokens = GREATEST(usage_ledger.completion_tokens, EXCLUDED.completion_tokens),
       cached_tokens = GREATEST(usage_ledger.cached_tokens, EXCLUDED.cached_tokens),
       calls = GREATEST(usage_ledger.calls, EXCLUDED.calls)`;
}

interface LedgerRow {
  source: 'turn' | 'review';
  sourceId: string;
  kind: UsageKind;
  model: string;
  tenant: string;
  userId: string | null;
  usage: TokenUsage & { calls: number };
}

/** The ten arrays {@link ledgerUpsert} reads. */
export function ledgerParams(rows: readonly LedgerRow[]): unknown[][] {
  return [
    rows.map((r) => r.source),
    rows.map((r) => r.sourceId),
    rows.map((r) => r.kind),
    rows.map((r) => r.model),
    rows.map((r) => r.tenant),
    rows.map((r) => r.userId),
    rows.map((r) => r.usage.promptTokens),
    rows.map((r) => r.usage.completionTokens),
    rows.map((r) => r.usage.cachedTokens),
    rows.map((r) => r.usage.calls),
  ];
}

/** The ledger rows of a turn's usage. */
export function turnLedgerRows(t: TurnUsageRecord): LedgerRow[] {
  return t.lines.map((l) => ({
    source: 'turn',
    sourceId: t.turnId,
    kind: l.kind,
    model: l.model,
    tenant: t.tenant,
    userId: t.userId,
    usage: l,
  }));
}

const GROUP_KEY: Record<UsageGroup, string> = {
  day: `to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  user: `coalesce(user_id, '')`,
  model: 'model',
};

interface SumRow {
  key: string;
  p: string;
  c: string;
  k: string;
  n: string;
}

const toRow = (r: SumRow): UsageRow => ({
  key: r.key,
  promptTokens: Number(r.p),
  completionTokens: Number(r.c),
  cachedTokens: Number(r.k),
  totalTokens: Number(r.p) + Number(r.c),
  calls: Number(r.n),
});

/**
 * Token usage in Postgres, for reports (`GET /v1/usage`, `fleet usage`) and for turns whose hot
 * record expired: turns' rows are written with their transcript row (see `Transcript`) and again when
 * a summary they triggered adds to them; review calls are written as they return.
 */
export class UsageLedger {
  readonly #pool: Pool;

  constructor(opts: { pool: Pool }) {
    this.#pool = opts.pool;
  }

  /** Writes a turn's totals so far (idempotent; a row never shrinks). */
  async recordTurn(t: TurnUsageRecord): Promise<void> {
    if (t.lines.length === 0) return;
    await this.#pool.query(ledgerUpsert(1), ledgerParams(turnLedgerRows(t)));
  }

  /** Writes one call (idempotent on `callId`). */
  async recordCall(c: CallUsageRecord): Promise<void> {
    const row: LedgerRow = {
      source: 'review',
      sourceId: c.callId,
      kind: c.kind,
      model: c.model,
      tenant: c.tenant,
      userId: c.userId,
      usage: { ...c, calls: 1 },
    };
    await this.#pool.query(ledgerUpsert(1), ledgerParams([row]));
  }

  /** A turn's lines as recorded (empty when none). */
  async turnLines(turnId: string): Promise<UsageLine[]> {
    const res = await this.#pool.query<{
      kind: UsageKind;
      model: string;
      prompt_tokens: string;
      completion_tokens: string;
      cached_tokens: string;
      calls: number;
    }>(
      `SELECT kind, model, prompt_tokens, completion_tokens, cached_tokens, calls FROM usage_ledger
       WHERE source = 'turn' AND source_id = $1 ORDER BY kind, model`,
      [turnId],
    );
    return res.rows.map((r) => ({
      kind: r.kind,
      model: r.model,
      promptTokens: Number(r.prompt_tokens),
      completionTokens: Number(r.completion_tokens),
      cachedTokens: Number(r.cached_tokens),
      calls: r.calls,
    }));
  }

  /** Usage recorded in [from, to), of a tenant and/or a user when given, grouped by day, user or model. */
  async report(q: UsageQuery): Promise<UsageReport> {
    const res = await this.#pool.query<SumRow>(
      `SELECT ${GROUP_KEY[q.groupBy]} AS key, sum(prompt_tokens) AS p, sum(completion_tokens) AS c,
              sum(cached_tokens) AS k, sum(calls) AS n
       FROM usage_ledger
       WHERE recorded_at >= to_timestamp($1 / 1000.0) AND recorded_at < to_timestamp($2 / 1000.0)
         AND ($3::text IS NULL OR tenant = $3) AND ($4::text IS NULL OR user_id = $4)
       GROUP BY 1 ORDER BY 1`,
      [q.from, q.to, q.tenant ?? null, q.userId ?? null],
    );
    const rows = res.rows.map(toRow);
    const total = rows.reduce(
      (t, r) => ({
        promptTokens: t.promptTokens + r.promptTokens,
        completionTokens: t.completionTokens + r.completionTokens,
        cachedTokens: t.cachedTokens + r.cachedTokens,
        totalTokens: t.totalTokens + r.totalTokens,
        calls: t.calls + r.calls,
      }),
      { promptTokens: 0, completionTokens: 0, cachedTokens: 0, totalTokens: 0, calls: 0 },
    );
    return { groupBy: q.groupBy, rows, total };
  }
}
