/**
 * pnpm bench:rag-footprint: what the local embedder's word vectors add to the processes that
 * retrieve. For each EMBEDDER setting (none, then local), a gateway, one worker and the simulator
 * on a throwaway Redis and Postgres; a document is ingested and `--turns` retrieval turns are run
 * one after another, then the worker's and gateway's RSS and peak RSS are read from /proc (Linux).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '@agent-fleet/core';
import { spawnService } from '@agent-fleet/devstack';
import { Command } from 'commander';
import { positiveInt } from './cli-args.ts';
import { SCRIPTS, startBenchStack } from './stack.ts';

const int = positiveInt;
const opts = new Command('bench:rag-footprint')
  .description('worker and gateway RSS after retrieval turns, with EMBEDDER=none and EMBEDDER=local')
  .option('--turns <n>', 'retrieval turns per setting', int, 20)
  .parse()
  .opts<{ turns: number }>();

const EMBEDDERS = ['none', 'local'] as const;
const JSON_HEADERS = { 'content-type': 'application/json' };

/** A field of /proc/<pid>/status in MiB (VmRSS: now, VmHWM: the peak). */
function mib(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024;
}

async function call(url: string, method: string, body: unknown): Promise<Response> {
  const res = await fetch(url, { method, headers: JSON_HEADERS, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return res;
}

async function settled(gateway: string, turnId: string): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const { status } = (await (await fetch(`${gateway}/v1/turns/${turnId}`)).json()) as { status: string };
    if (status === 'completed') return;
    if (status === 'failed' || status === 'cancelled') throw new Error(`turn ${turnId} ${status}`);
    await sleep(50);
  }
  throw new Error(`turn ${turnId} did not settle in 30 s`);
}

async function measure(embedder: (typeof EMBEDDERS)[number]) {
  const stack = await startBenchStack();
  const services: ReturnType<typeof spawnService>[] = [];
  const start = (
    name: string,
    script: string,
    env: Record<string, string | undefined>,
    ready: 'listening' | 'ready',
  ) => {
    const s = spawnService({ name, script, env, readyEvent: ready, logFile: join(stack.dir, `${name}.log`) });
    services.push(s);
    return s;
  };
  try {
    const base = { PATH: process.env.PATH, LOG_LEVEL: 'warn' };
    const sim = start(
      'llm-sim',
      SCRIPTS.llmSim,
      { ...base, SIM_PORT: '0', SIM_TIME_SCALE: '0' },
      'listening',
    );
    const env = {
      ...base,
      REDIS_URL: stack.redis.url,
      DATABASE_URL: stack.databaseUrl,
      LLM_BASE_URLS: (await sim.ready)!.url,
      HOST: '127.0.0.1',
      PORT: '0',
      AUTH_MODE: 'off',
      EMBEDDER: embedder,
    };
    const gateway = start('gateway', SCRIPTS.gateway, env, 'listening');
    const url = (await gateway.ready)!.url;
    const worker = start('worker', SCRIPTS.worker, env, 'ready');
    await worker.ready;
    const idle = mib(worker.pid, 'VmRSS');
    await call(`${url}/v1/users/reader/profile`, 'PUT', { tenant: 'acme', groups: [] });
    await call(`${url}/v1/documents`, 'POST', {
      docId: 'retention',
      title: 'Record Retention Standard',
      tenant: 'acme',
      acl: [],
      public: true,
      text: '# Record Retention Standard\n\n## Periods\n\nCustomer due diligence records are kept for seven years.',
    });
    for (let i = 0; i < opts.turns; i++) {
      const res = await call(`${url}/v1/users/reader/messages`, 'POST', {
        text: `How long are customer due diligence records kept? (${i})`,
      });
      await settled(url, ((await res.json()) as { turnId: string }).turnId);
    }
    return {
      embedder,
      workerIdle: idle,
      worker: mib(worker.pid, 'VmRSS'),
      workerPeak: mib(worker.pid, 'VmHWM'),
      gateway: mib(gateway.pid, 'VmRSS'),
      gatewayPeak: mib(gateway.pid, 'VmHWM'),
    };
  } finally {
    await Promise.all(services.reverse().map((s) => s.stop(5000)));
    await stack.stop();
  }
}

const rows = [];
for (const embedder of EMBEDDERS) rows.push(await measure(embedder));
console.log(`bench:rag-footprint: ${opts.turns} retrieval turns per setting, RSS in MiB`);
console.log('| EMBEDDER | worker idle | worker after turns | worker peak | gateway | gateway peak |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| ${r.embedder} | ${[r.workerIdle, r.worker, r.workerPeak, r.gateway, r.gatewayPeak].map((x) => x.toFixed(0)).join(' | ')} |`,
  );
