import { randomUUID } from 'node:crypto';
import {
  billableTokens,
  type Logger,
  NO_TENANT,
  type QuotaRefusal,
  type QuotaScope,
  quotaExceeded,
  sleep,
  type TokenUsage,
  type UsageKind,
} from '@agent-fleet/core';
import {
  type BudgetHolder,
  DEFAULT_TERMS,
  type QuotaBook,
  type TenantTerms,
  usageIncrements,
  type WindowUse,
} from '@agent-fleet/turns';
import type { WorkerMetrics } from '../metrics.ts';

/** Whose budgets a call counts against, and what it counts as. */
export interface Attribution {
  tenant: string;
  userId: string;
  /** The turn whose record the usage is added to (the turn that triggered a summary too). */
  turnId?: string;
  kind: UsageKind;
}

/** A call's usage as the server reported it, with the model that answered. */
export interface MeteredUsage extends TokenUsage {
  model: string;
}

/** The tokens a call holds from its tenant's and user's budgets until it is settled. */
export interface Hold {
  id: string;
  terms: TenantTerms;
}

/** A budget's soft threshold crossed, as announced to operators. */
export interface SoftThresholdEvent {
  type: 'soft_threshold';
  tenant: string;
  scope: QuotaScope;
  /** The tenant's name, or the user's id. */
  subject: string;
  window: WindowUse['window'];
  used: number;
  limit: number;
  threshold: number;
  resetAt: string;
}

export interface MeterPorts {
  quotas: Pick<QuotaBook, 'hold' | 'release' | 'settle'>;
  metrics: Pick<WorkerMetrics, 'tokens' | 'modelCalls' | 'quotaSoft' | 'quotaExceeded'>;
  /** Announces a crossed soft threshold (the quota events channel); must not throw. */
  announce: (event: SoftThresholdEvent) => void;
  logger: Logger;
}

export interface MeterSettings {
  /** QUOTA_CALL_HOLD_TOKENS. */
  holdTokens: number;
  /** The longest a call can take (all its attempts): a hold lapses after it. */
  holdMs: number;
}

/** Longest wait between two tries while calls in flight hold what is left of a budget. */
const BUSY_MAX_DELAY_MS = 500;

type Attempt = { kind: 'held'; hold: Hold } | { kind: 'busy' } | { kind: 'refused'; refusal: QuotaRefusal };

/**
 * The one place every model call is checked against the budgets and counted: `hold` before the
 * call (the tenant's budgets, then the user's; refused with `quota_exceeded` when one is used up,
 * waiting while calls in flight hold what is left of one),
 * `settle` after it with what the server reported (the budgets' counters, the turn's record and
 * the Prometheus counters by tenant and model), `release` when the call was not made. A call whose
 * worker dies between the two is not counted, and its hold lapses after `holdMs`.
 */
export class UsageMeter {
  readonly #ports: MeterPorts;
  readonly #settings: MeterSettings;

  constructor(ports: MeterPorts, settings: MeterSettings) {
    this.#ports = ports;
    this.#settings = settings;
  }

  /**
   * Holds tokens for a call, or throws `quota_exceeded` naming the budget that is used up. While
   * calls in flight hold what is left of a budget, it waits for them to settle (or `signal`).
   */
  async hold(a: Attribution, signal?: AbortSignal): Promise<Hold> {
    for (let delay = 10; ; delay = Math.min(delay * 2, BUSY_MAX_DELAY_MS)) {
      const got = await this.#tryHold(a);
      if (got.kind === 'held') return got.hold;
      if (got.kind === 'refused') throw this.#refused(a, got.refusal);
      await sleep(delay * (0.5 + Math.random()), signal);
    }
  }

  /** One try: the tenant's hold, then the user's (the tenant's given back when the user's fails). */
  async #tryHold(a: Attribution): Promise<Attempt> {
    const { quotas } = this.#ports;
    const id = randomUUID();
    const opts = { expireAt: Date.now() + this.#settings.holdMs };
    let terms = DEFAULT_TERMS;
    if (a.tenant !== NO_TENANT) {
      const t = await quotas.hold(tenantOf(a), id, this.#settings.holdTokens, opts);
      if (!t.ok) return t.busy ? { kind: 'busy' } : { kind: 'refused', refusal: t.refusal };
      terms = t.terms;
    }
    const u = await quotas.hold(userOf(a, terms), id, this.#settings.holdTokens, opts);
    if (u.ok) return { kind: 'held', hold: { id, terms } };
    if (a.tenant !== NO_TENANT) await quotas.release(tenantOf(a), id);
    return u.busy ? { kind: 'busy' } : { kind: 'refused', refusal: u.refusal };
  }

  /** Gives a hold back: the call was not made, or failed before the server answered. */
  async release(a: Attribution, hold: Hold): Promise<void> {
    const { quotas } = this.#ports;
    await Promise.all([
      a.tenant !== NO_TENANT ? quotas.release(tenantOf(a), hold.id) : undefined,
      quotas.release(userOf(a, hold.terms), hold.id),
    ]);
  }

  /**
   * Counts a call's usage: in the tenant's and the user's windows (releasing its hold, when it had
   * one), in the turn's record (in the same step as the user's), and in the metrics.
   */
  async settle(a: Attribution, u: MeteredUsage, hold?: Hold): Promise<void> {
    const { quotas, metrics } = this.#ports;
    const tokens = billableTokens(u);
    const id = hold?.id ?? '';
    const terms = hold?.terms ?? DEFAULT_TERMS;
    const record = a.turnId
      ? { turnId: a.turnId, increments: usageIncrements(a.kind, u.model, u) }
      : undefined;
    const [tenantUse, userUse] = await Promise.all([
      a.tenant !== NO_TENANT ? quotas.settle(tenantOf(a), id, tokens) : Promise.resolve([]),
      quotas.settle(userOf(a, terms), id, tokens, record ? { record } : {}),
    ]);
    const labels = { tenant: a.tenant, model: u.model, kind: a.kind };
    metrics.tokens.inc({ ...labels, type: 'prompt' }, u.promptTokens);
    metrics.tokens.inc({ ...labels, type: 'completion' }, u.completionTokens);
    metrics.tokens.inc({ ...labels, type: 'cached' }, u.cachedTokens);
    metrics.modelCalls.inc(labels);
    this.#crossed(a, 'tenant', a.tenant, tenantUse, tokens, terms.softThreshold);
    this.#crossed(a, 'user', a.userId, userUse, tokens, terms.softThreshold);
  }

  /** Announces each window whose soft threshold this call's tokens crossed. */
  #crossed(
    a: Attribution,
    scope: QuotaScope,
    subject: string,
    uses: WindowUse[],
    tokens: number,
    threshold: number,
  ): void {
    for (const w of uses) {
      if (w.limit === null) continue;
      const mark = w.limit * threshold;
      if (w.used < mark || w.used - tokens >= mark) continue;
      this.#ports.metrics.quotaSoft.inc({ tenant: a.tenant, scope, window: w.window });
      const event: SoftThresholdEvent = {
        type: 'soft_threshold',
        tenant: a.tenant,
        scope,
        subject,
        window: w.window,
        used: w.used,
        limit: w.limit,
        threshold,
        resetAt: new Date(w.resetAt).toISOString(),
      };
      this.#ports.logger.warn(event, 'a token budget passed its soft threshold');
      this.#ports.announce(event);
    }
  }

  #refused(a: Attribution, r: QuotaRefusal): Error {
    this.#ports.metrics.quotaExceeded.inc({ tenant: a.tenant, scope: r.scope, window: r.window });
    return quotaExceeded(r);
  }
}

function tenantOf(a: Attribution): BudgetHolder {
  return { scope: 'tenant', tenant: a.tenant };
}

function userOf(a: Attribution, terms: TenantTerms): BudgetHolder {
  return { scope: 'user', userId: a.userId, fallback: terms.perUser };
}
