import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@agent-fleet/devstack';

/** One series of a range query: its labels and its samples (seconds, value; NaN kept as NaN). */
export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, number][];
}

export interface RunningPrometheus {
  url: string;
  queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<RangeSeries[]>;
  /** The alert rules as Prometheus evaluates them now: name, state (inactive, pending, firing). */
  alerts(): Promise<{ name: string; state: string }[]>;
  stop(): Promise<void>;
}

/**
 * Debian's Prometheus, scraping `targets` every 2 s (on loopback) and evaluating `ruleFile` every
 * 5 s, with its data in `dir`; resolves once it is ready.
 */
export async function startPrometheus(opts: {
  dir: string;
  targets: { job: string; address: string }[];
  ruleFile: string;
}): Promise<RunningPrometheus> {
  const port = await freePort();
  const config = join(opts.dir, 'prometheus.yml');
  const jobs = [...new Set(opts.targets.map((t) => t.job))].map((job) => ({
    job_name: job,
    static_configs: [{ targets: opts.targets.filter((t) => t.job === job).map((t) => t.address) }],
  }));
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '2s', evaluation_interval: '5s' },
      rule_files: [opts.ruleFile],
      scrape_configs: jobs,
    }),
  );
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(opts.dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('Prometheus did not get ready');
    await new Promise((r) => setTimeout(r, 250));
  }
  const api = async <T>(path: string, params: Record<string, string>): Promise<T> => {
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    async queryRange(expr, start, end, stepSeconds) {
      const data = await api<{ result: { metric: Record<string, string>; values: [number, string][] }[] }>(
        '/api/v1/query_range',
        { query: expr, start: String(start), end: String(end), step: String(stepSeconds) },
      );
      return data.result.map((r) => ({ metric: r.metric, values: r.values.map(([t, v]) => [t, Number(v)]) }));
    },
    async alerts() {
      const data = await api<{ groups: { rules: { name: string; state?: string }[] }[] }>('/api/v1/rules', {
        type: 'alert',
      });
      return data.groups.flatMap((g) => g.rules.map((r) => ({ name: r.name, state: r.state ?? 'inactive' })));
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
