/** What a health check and a /metrics scrape tell about one vLLM server. */
export interface ServerHealth {
  healthy: boolean;
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
 * Checks `GET /health` and scrapes `GET /metrics` of one server (vLLM names:
 * `vllm:num_requests_running`, `vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc`, or the
 * older `vllm:gpu_cache_usage_perc`).
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
    if (!health.ok) return { healthy: false, running: 0, waiting: 0, kvUsage: 0, checkedAt: Date.now() };
    let running = 0;
    let waiting = 0;
    let kvUsage = 0;
    const metrics = await fetchImpl(`${origin}/metrics`, { signal }).catch(() => undefined);
    if (metrics?.ok) {
      const text = await metrics.text();
      running = sumMetric(text, 'vllm:num_requests_running') ?? 0;
      waiting = sumMetric(text, 'vllm:num_requests_waiting') ?? 0;
      kvUsage =
        sumMetric(text, 'vllm:kv_cache_usage_perc') ?? sumMetric(text, 'vllm:gpu_cache_usage_perc') ?? 0;
    } else {
      await metrics?.arrayBuffer();
    }
    return { healthy: true, running, waiting, kvUsage, checkedAt: Date.now() };
  } catch {
    return { healthy: false, running: 0, waiting: 0, kvUsage: 0, checkedAt: Date.now() };
  }
}
