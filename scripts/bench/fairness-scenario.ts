/**
 * The fairness scenario that test/fairness.test.ts asserts on and `pnpm bench:fairness` prints, run
 * from outside against a running fleet (its gateway over HTTP, its Redis read for the turn records):
 * tenant B's users chat at a steady rate on an idle fleet, then again while tenant A posts a burst
 * over many users at once; then two tenants weighted 3:1 both post bursts.
 */
import { Agent, request } from 'node:http';
import { isFinalStatus, type RedisClient, sleep, sumUsage } from '@agent-fleet/core';
import { TurnRecords } from '@agent-fleet/turns';
import { mapLimit } from '../../test/support/map-limit.ts';
import { percentile } from './stack.ts';

export interface FairnessFleet {
  gatewayUrl: string;
  redis: RedisClient;
  namespace: string;
  /** Model calls per second the fleet's model servers can serve: what "full rate" means. */
  capacity: number;
}

export interface FairnessOptions {
  /** Tenant A's burst: messages over users, all posted at once (round-robin over the users). */
  burstMessages: number;
  burstUsers: number;
  /** Tenant B: users, each sending a message a period after their last (once answered). */
  steadyUsers: number;
  periodMs: number;
  /** How long B chats on the idle fleet for the baseline. */
  idleMs: number;
  /** The weighted phase, when given: messages and users per tenant, the two tenants' weights. */
  weighted?: { messages: number; users: number; weights: [number, number] };
  /** HTTP requests in flight while posting a burst. */
  clients: number;
  log?: (line: string) => void;
}

/** A completed turn as the scenario reads it back. */
interface Finished {
  enqueuedAt: number;
  startedAt: number;
  completedAt: number;
  tokens: number;
}

/** p50 and p95 of a tenant's turns, in ms. */
export interface Spread {
  p50: number;
  p95: number;
}

export interface SteadyFigures {
  turns: number;
  /** Accepted -> started (the turn passed its user's gate and runs). */
  wait: Spread;
  /** Accepted -> completed (answered). */
  latency: Spread;
}

export interface FairnessResult {
  idle: SteadyFigures;
  burst: SteadyFigures & {
    /** From the burst's first post to A's last turn completed. */
    drainMs: number;
    /** A's turns per second over its drain, and the fleet's (A and B) over the same time. */
    aRate: number;
    fleetRate: number;
    /** The fleet's rate over the model servers' capacity (1: they never idled). */
    utilisation: number;
    /** B's share of the tokens served during the burst. */
    bShare: number;
  };
  /** Present when the options asked for the weighted phase. */
  weighted?: {
    /** Tokens served to the weight-3 and the weight-1 tenant while both had a backlog, and their ratio. */
    tokens: [number, number];
    ratio: number;
    /** Jain's index over the weight-normalised token shares (1: exactly in proportion to the weights). */
    jain: number;
  };
}

/**
 * Model calls per second the model servers can serve when every worker keeps `inFlight` calls
 * going: the calls in flight over their mean latency (the latency plus half the jitter).
 */
export function modelCapacity(m: { workers: number; inFlight: number; latencyMs: number; jitterMs: number }) {
  return (m.workers * m.inFlight * 1000) / (m.latencyMs + m.jitterMs / 2);
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** One JSON request to the gateway; resolves the body, rejects on a status of 300 or more. */
function call(gatewayUrl: string, method: 'POST' | 'PUT', path: string, body: unknown): Promise<string> {
  const url = new URL(path, gatewayUrl);
  const payload = JSON.stringify(body);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        else resolve(text);
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** How often a long wait says how far it got. */
const PROGRESS_MS = 5000;
/** The least time the weighted phase's shares are measured over. */
const WEIGHTED_WINDOW_MS = 2000;
/** Records a wait reads per poll, from the oldest turn still pending on. */
const WAIT_WINDOW = 64;
const users = (tenant: string, n: number) => Array.from({ length: n }, (_, i) => `${tenant}-user-${i}`);
const spread = (xs: number[]): Spread => ({ p50: percentile(xs, 0.5), p95: percentile(xs, 0.95) });
const tokensOf = (xs: Finished[]) => xs.reduce((n, t) => n + t.tokens, 0);

/** Jain's fairness index of `xs`: 1 when all are equal, 1/n when one has everything. */
export function jainIndex(xs: readonly number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0);
  const squares = xs.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares);
}

export class FairnessScenario {
  readonly #fleet: FairnessFleet;
  readonly #o: FairnessOptions;
  readonly #records: TurnRecords;

  constructor(fleet: FairnessFleet, opts: FairnessOptions) {
    this.#fleet = fleet;
    this.#o = opts;
    this.#records = new TurnRecords({ redis: fleet.redis, namespace: fleet.namespace, ttlSeconds: 3600 });
  }

  async run(): Promise<FairnessResult> {
    const o = this.#o;
    const w = o.weighted;
    o.log?.('setting up profiles and weights');
    const tenants: [string, number, number][] = [
      ['a', o.burstUsers, 1],
      ['b', o.steadyUsers, 1],
    ];
    if (w) tenants.push(['w3', w.users, w.weights[0]], ['w1', w.users, w.weights[1]]);
    await this.#setUp(tenants);
    const idle = await this.#idle();
    const burst = await this.#burst();
    if (!w) return { idle, burst };
    return { idle, burst, weighted: await this.#weighted(w) };
  }

  /** Profiles (the tenant each user counts under) and the tenants' weights. */
  async #setUp(tenants: [string, number, number][]): Promise<void> {
    const g = this.#fleet.gatewayUrl;
    for (const [tenant, n, weight] of tenants) {
      await call(g, 'PUT', `/v1/tenants/${tenant}/quota`, { weight });
      await mapLimit(users(tenant, n), 16, (u) =>
        call(g, 'PUT', `/v1/users/${u}/profile`, { tenant, groups: ['staff'] }),
      );
    }
  }

  async #send(userId: string, text: string): Promise<string> {
    const body = await call(this.#fleet.gatewayUrl, 'POST', `/v1/users/${userId}/messages`, { text });
    return (JSON.parse(body) as { turnId: string }).turnId;
  }

  /** B alone on the idle fleet. */
  async #idle(): Promise<SteadyFigures> {
    const b = await this.#finished(await this.#steady(Date.now() + this.#o.idleMs));
    const figures = steadyFigures(b);
    this.#o.log?.(`idle: ${describe(figures)}`);
    return figures;
  }

  /** A posts its burst at once; B chats at its steady rate until A's backlog is done. */
  async #burst(): Promise<FairnessResult['burst']> {
    const o = this.#o;
    const a = users('a', o.burstUsers);
    const messages = Array.from({ length: o.burstMessages }, (_, i) => a[i % a.length]!);
    const started = Date.now();
    let drained = false;
    const steady = this.#steady(Number.POSITIVE_INFINITY, () => drained);
    let posted = 0;
    const aTurns = await mapLimit(messages, o.clients, async (u) => {
      const id = await this.#send(u, 'Summarise our gifts and hospitality policy for me.');
      if (++posted % 1000 === 0) o.log?.(`burst: ${posted} of ${messages.length} messages of A posted`);
      return id;
    });
    o.log?.(`burst: ${o.burstMessages} messages of A posted in ${Date.now() - started} ms`);
    await this.#waitAll(aTurns, 250, "burst: A's backlog");
    drained = true;
    const aDone = await this.#finished(aTurns);
    const end = Math.max(...aDone.map((t) => t.completedAt));
    const bDone = (await this.#finished(await steady)).filter((t) => t.enqueuedAt <= end);
    const bServed = bDone.filter((t) => t.completedAt <= end);
    const drainMs = end - started;
    const fleetRate = ((aDone.length + bServed.length) / drainMs) * 1000;
    const result = {
      ...steadyFigures(bDone),
      drainMs,
      aRate: (aDone.length / drainMs) * 1000,
      fleetRate,
      utilisation: fleetRate / this.#fleet.capacity,
      bShare: tokensOf(bServed) / (tokensOf(aDone) + tokensOf(bServed)),
    };
    o.log?.(
      `burst: A drained in ${drainMs} ms (${result.aRate.toFixed(0)} turns/s; the fleet ${fleetRate.toFixed(0)}/s, ` +
        `${(result.utilisation * 100).toFixed(0)}% of the model servers' capacity); ${describe(result)}, ` +
        `B's share of the tokens ${(result.bShare * 100).toFixed(1)}%`,
    );
    return result;
  }

  /** Two tenants post bursts at once (interleaved); tokens served to each while both have a backlog. */
  async #weighted(
    w: NonNullable<FairnessOptions['weighted']>,
  ): Promise<NonNullable<FairnessResult['weighted']>> {
    const { messages, users: n, weights } = w;
    const heavy = users('w3', n);
    const light = users('w1', n);
    const order: [string, string][] = [];
    for (let i = 0; i < messages; i++) order.push(['w3', heavy[i % n]!], ['w1', light[i % n]!]);
    const ids: Record<string, string[]> = { w3: [], w1: [] };
    await mapLimit(order, this.#o.clients, async ([tenant, u]) => {
      ids[tenant]!.push(await this.#send(u, 'Summarise our gifts and hospitality policy for me.'));
    });
    const posted = Date.now();
    await this.#waitAll([...ids.w3!, ...ids.w1!], 250, 'weighted');
    const [a, b] = await Promise.all([this.#finished(ids.w3!), this.#finished(ids.w1!)]);
    // While both had a backlog: from when both bursts were posted (before, the fleet serves what
    // arrives as it is accepted) or a quarter into the turns of the tenant that finishes first,
    // whichever is later, to three quarters into them (at its end its users run out of turns).
    const first = [a, b].sort((x, y) => lastCompletion(x) - lastCompletion(y))[0]!;
    const times = first.map((t) => t.completedAt).sort((x, y) => x - y);
    const from = Math.max(posted, times[Math.floor(times.length / 4)]!);
    const end = times[Math.floor((times.length * 3) / 4)]!;
    if (end - from < WEIGHTED_WINDOW_MS)
      throw new Error(
        `weighted: both tenants had a backlog for ${end - from} ms after the bursts were posted; ` +
          'post more messages per tenant',
      );
    const served = (xs: Finished[]) =>
      tokensOf(xs.filter((t) => t.completedAt > from && t.completedAt <= end));
    const tokens: [number, number] = [served(a), served(b)];
    const total = tokens[0] + tokens[1];
    const jain = jainIndex([tokens[0] / total / weights[0], tokens[1] / total / weights[1]]);
    const ratio = tokens[0] / tokens[1];
    this.#o.log?.(
      `weighted ${weights[0]}:${weights[1]}: tokens ${tokens[0]} : ${tokens[1]} = ${ratio.toFixed(2)}, Jain ${jain.toFixed(3)}`,
    );
    return { tokens, ratio, jain };
  }

  /**
   * B's users chat until `until` (or `stop()`): each sends a message, waits for the answer, and
   * sends the next a period after the last (at once when the answer took longer), so a user never
   * waits for their own previous turn. Resolves the turn ids.
   */
  async #steady(until: number, stop: () => boolean = () => false): Promise<string[]> {
    const o = this.#o;
    const ids: string[] = [];
    await Promise.all(
      users('b', o.steadyUsers).map(async (u, i) => {
        await sleep((i * o.periodMs) / o.steadyUsers);
        while (Date.now() < until && !stop()) {
          const next = Date.now() + o.periodMs;
          const id = await this.#send(u, 'When do I need approval for a gift?');
          ids.push(id);
          await this.#waitAll([id], 50);
          await sleep(Math.max(0, next - Date.now()));
        }
      }),
    );
    return ids;
  }

  /**
   * Resolves once every turn ended; with a `label`, says how far it got every few seconds. It reads
   * the records from the oldest pending on, a few at a time (turns end roughly in the order they
   * were accepted), so waiting for a burst of thousands costs Redis a few reads a poll, not one per
   * turn still pending: the measuring must not load the Redis the fleet runs on.
   */
  async #waitAll(ids: string[], pollMs = 250, label?: string): Promise<void> {
    let said = Date.now();
    for (let next = 0; next < ids.length; ) {
      const window = ids.slice(next, next + WAIT_WINDOW);
      const records = await Promise.all(window.map((id) => this.#records.get(id)));
      const ended = records.findIndex((r) => !isFinalStatus(r?.status ?? 'queued'));
      next += ended < 0 ? window.length : ended;
      if (label && Date.now() - said >= PROGRESS_MS) {
        this.#o.log?.(`${label}: the first ${next} of ${ids.length} turns ended`);
        said = Date.now();
      }
      if (ended >= 0) await sleep(pollMs);
    }
  }

  async #finished(ids: string[]): Promise<Finished[]> {
    const records = await Promise.all(ids.map((id) => this.#records.get(id)));
    return records.flatMap((r) => {
      if (r?.status !== 'completed' || r.startedAt === undefined || r.completedAt === undefined) return [];
      const u = sumUsage(r.usage ?? []);
      return [
        {
          enqueuedAt: r.enqueuedAt,
          startedAt: r.startedAt,
          completedAt: r.completedAt,
          tokens: u.promptTokens + u.completionTokens,
        },
      ];
    });
  }
}

const lastCompletion = (xs: Finished[]) => Math.max(...xs.map((t) => t.completedAt));

function steadyFigures(turns: Finished[]): SteadyFigures {
  return {
    turns: turns.length,
    wait: spread(turns.map((t) => t.startedAt - t.enqueuedAt)),
    latency: spread(turns.map((t) => t.completedAt - t.enqueuedAt)),
  };
}

function describe(f: SteadyFigures): string {
  return (
    `B ${f.turns} turns, queue wait p50 ${f.wait.p50} ms p95 ${f.wait.p95} ms, ` +
    `answered in p50 ${f.latency.p50} ms p95 ${f.latency.p95} ms`
  );
}
