/** What a health check and a /metrics scrape tell about one vLLM server. */
export interface ServerHealth {
  healthy: boolean;
  /** `/health` did not answer within the check's time (the server is hung, or only very busy). */
  timedOut?: true;
  running: number;
  waiting: number;
  /** KV-cache usage 0..1. */
  kvUsage: number;
  checkedAt: number;
}

/** Sum every sample of `name` (any labels) in a Prometheus text exposition. */
export function sumMetric(text: string, name: string): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

/** The server's origin: health and metrics live beside `/v1`, not under it. */
export function originOf(baseUrl: string): string {
  return baseUrl.replace(/\/v1\/?$/, '').replace(/\/$/, '');
}

/**
 * Checks `GET /health` and scrapes `GET /metrics` of one server, each within `timeoutMs`.
 * Unreachable, too slow (`timedOut`) or a 5xx is unhealthy; any other answer is healthy, so servers
 * without a `/health` route (OpenAI's API, which answers 404) stay usable. When `/health` answered
 * 2xx the scrape reads vLLM's names (`vllm:num_requests_running`, `vllm:num_requests_waiting`,
 * `vllm:kv_cache_usage_perc`, or the older `vllm:gpu_cache_usage_perc`); a scrape that fails or
 * runs out of time leaves the load at 0 and the server healthy, since `/health` said it is.
 */
export async function checkServer(
  baseUrl: string,
  fetchImpl: typeof fetch,
  timeoutMs: number,
): Promise<ServerHealth> {
  const origin = originOf(baseUrl);
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const health = await fetchImpl(`${origin}/health`, { signal });
    await health.arrayBuffer();
    if (!health.ok) return unscraped(health.status < 500);
  } catch {
    return signal.aborted ? { ...unscraped(false), timedOut: true } : unscraped(false);
  }
  const load = await scrapeLoad(origin, fetchImpl, timeoutMs).catch(() => undefined);
  return { ...unscraped(true), ...load };
}

async function scrapeLoad(
  origin: string,
  fetchImpl: typeof fetch,
  timeoutMs: number,
): Promise<Pick<ServerHealth, 'running' | 'waiting' | 'kvUsage'> | undefined> {
  const metrics = await fetchImpl(`${origin}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!metrics.ok) {
    await metrics.arrayBuffer();
    return undefined;
  }
  const text = await metrics.text();
  return {
    running: sumMetric(text, 'vllm:num_requests_running') ?? 0,
    waiting: sumMetric(text, 'vllm:num_requests_waiting') ?? 0,
    kvUsage: sumMetric(text, 'vllm:kv_cache_usage_perc') ?? sumMetric(text, 'vllm:gpu_cache_usage_perc') ?? 0,
  };
}

function unscraped(healthy: boolean): ServerHealth {
  return { healthy, running: 0, waiting: 0, kvUsage: 0, checkedAt: Date.now() };
}

/**
 * Consecutive `/health` timeouts after which a server that was healthy counts as down. One slow
 * answer from a server busy serving is not an outage (failing every queued request for it would
 * be worse than waiting one more period); a hung server is still caught within two periods, and a
 * refused connection or a 5xx counts at once.
 */
export const TIMEOUTS_BEFORE_DOWN = 2;

export interface ServerMonitorOptions {
  /** Base URLs (`…/v1`) of the servers to watch. */
  urls: readonly string[];
  /** Check period; the first check runs at `start()`. */
  intervalMs: number;
  /** Per check; defaults to 2000 ms. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Told of every server's result after each round of checks. */
  onCheck?: (results: readonly ServerHealth[]) => void;
}

/**
 * Checks a set of servers every `intervalMs` (never per request) and keeps each one's last result.
 * The gateway uses it for readiness; the LLM pool feeds the results to its circuit breakers and
 * router. A server counts as healthy until its first check says otherwise, and a healthy one that
 * stops answering in time counts as down at its TIMEOUTS_BEFORE_DOWN-th timed-out check in a row.
 */
export class ServerMonitor {
  readonly urls: readonly string[];
  readonly #o: ServerMonitorOptions;
  readonly #fetch: typeof fetch;
  #results: ServerHealth[];
  /** Per server: `/health` timeouts in a row up to the last check. */
  readonly #timeouts: number[];
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;

  constructor(opts: ServerMonitorOptions) {
    this.urls = [...opts.urls];
    this.#o = opts;
    this.#fetch = opts.fetch ?? fetch;
    this.#results = this.urls.map(() => ({
      healthy: true,
      running: 0,
      waiting: 0,
      kvUsage: 0,
      checkedAt: 0,
    }));
    this.#timeouts = this.urls.map(() => 0);
  }

  /** Checks now and then every `intervalMs` (the timer does not keep the process alive). */
  async start(): Promise<void> {
    if (this.#timer || this.#o.intervalMs <= 0) return;
    this.#timer = setInterval(() => void this.check(), this.#o.intervalMs);
    this.#timer.unref();
    await this.check();
  }

  /** One round of checks over every server; a round already running is joined, not doubled. */
  check(): Promise<void> {
    this.#round ??= this.#checkAll().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  /** Each server's last result, in `urls` order. */
  get results(): readonly ServerHealth[] {
    return this.#results;
  }

  /** How many servers answered their last health check. */
  get healthy(): number {
    return this.#results.filter((r) => r.healthy).length;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #checkAll(): Promise<void> {
    const timeoutMs = this.#o.timeoutMs ?? 2000;
    const checks = await Promise.all(this.urls.map((url) => checkServer(url, this.#fetch, timeoutMs)));
    this.#results = checks.map((check, i) => this.#settle(i, check));
    this.#o.onCheck?.(this.#results);
  }

  /** A timed-out check of a healthy server keeps it healthy (last load figures) until the TIMEOUTS_BEFORE_DOWN-th in a row. */
  #settle(i: number, check: ServerHealth): ServerHealth {
    this.#timeouts[i] = check.timedOut ? this.#timeouts[i]! + 1 : 0;
    const last = this.#results[i]!;
    if (check.timedOut && last.healthy && this.#timeouts[i]! < TIMEOUTS_BEFORE_DOWN) {
      return { ...last, checkedAt: check.checkedAt };
    }
    return check;
  }
}

/**
 * Readiness wording shared by every deployable that reports on LLM servers: `ok`, or `down: …`
 * saying that no LLM server is healthy.
 */
export function llmReadiness(health: { healthy: number; total: number }): { ok: boolean; check: string } {
  if (health.healthy > 0) return { ok: true, check: 'ok' };
  return {
    ok: false,
    check: `down: no LLM server is healthy (0 of ${health.total})`,
  };
}
