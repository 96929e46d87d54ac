/**
 * pnpm bench:redis-fsync: what `REDIS_APPENDFSYNC=always` (the embedded default: a 202 survives a
 * SIGKILL of redis-server) costs next to `everysec`. Starts one redis-server per policy exactly as
 * `npm start` does (AOF in .fleet/, loopback) and runs Debian's `redis-benchmark` against each:
 * SET from one client (every write waits for its own fsync), from 50 clients (writes arriving
 * together share one fsync), and from 50 clients pipelining 16 commands.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type AppendFsyncPolicy, type RedisServerHandle, startRedisServer } from '@agent-fleet/devstack';
import { Command, InvalidArgumentError } from 'commander';
import { startBenchDir } from './stack.ts';

const run = promisify(execFile);
const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};
const opts = new Command('bench:redis-fsync')
  .description('the cost of appendfsync always vs everysec on the embedded redis-server')
  .option('--requests <n>', 'SET commands per run', positive, 100_000)
  .option('--rounds <n>', 'runs per case and policy, alternating (the median is reported)', positive, 5)
  .parse()
  .opts<{ requests: number; rounds: number }>();

const CASES = [
  { name: '1 client', args: ['-c', '1'], share: 0.2 },
  { name: '50 clients', args: ['-c', '50'], share: 1 },
  { name: '50 clients, pipeline 16', args: ['-c', '50', '-P', '16'], share: 1 },
] as const;
const POLICIES: AppendFsyncPolicy[] = ['everysec', 'always'];

interface Result {
  rps: number;
  p50: number;
  p99: number;
}

/** One redis-benchmark run of SET (random keys, 64-byte values), parsed from its CSV line. */
async function benchmark(port: number, args: readonly string[], requests: number): Promise<Result> {
  // biome-ignore format: one flag and its value per line
  const { stdout } = await run('redis-benchmark', [
    '-h', '127.0.0.1',
    '-p', String(port),
    '-t', 'set',
    '-n', String(requests),
    '-d', '64',
    '-r', '1000000',
    '--csv',
    ...args,
  ]);
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const [, rps, , , p50, , p99] = line.split(',').map((f) => Number(f.replaceAll('"', '')));
  if (!rps) throw new Error(`cannot read redis-benchmark output: ${stdout}`);
  return { rps, p50: p50!, p99: p99! };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const bench = startBenchDir('fsync');
  const servers = new Map<AppendFsyncPolicy, RedisServerHandle>();
  try {
    for (const policy of POLICIES) {
      servers.set(policy, await startRedisServer({ dataDir: bench.path(policy), appendfsync: policy }));
    }
    const rows: string[] = [];
    for (const c of CASES) {
      const requests = Math.max(1000, Math.round(opts.requests * c.share));
      // Rounds alternate between the policies, so a change in the machine's load hits both alike.
      const rounds = new Map<AppendFsyncPolicy, Result[]>(POLICIES.map((p) => [p, []]));
      for (let i = 0; i < opts.rounds; i++) {
        for (const policy of POLICIES) {
          process.stdout.write(`\r${c.name}: round ${i + 1} of ${opts.rounds}, ${policy}     `);
          rounds.get(policy)!.push(await benchmark(servers.get(policy)!.port, c.args, requests));
        }
      }
      const results = new Map<AppendFsyncPolicy, Result>(
        POLICIES.map((policy) => {
          const runs = rounds.get(policy)!;
          return [
            policy,
            {
              rps: median(runs.map((r) => r.rps)),
              p50: median(runs.map((r) => r.p50)),
              p99: median(runs.map((r) => r.p99)),
            },
          ];
        }),
      );
      const e = results.get('everysec')!;
      const a = results.get('always')!;
      rows.push(
        `| ${c.name} | ${fmt(e.rps)} SET/s, p50 ${e.p50} ms, p99 ${e.p99} ms | ${fmt(a.rps)} SET/s, p50 ${a.p50} ms, p99 ${a.p99} ms | ${(a.rps / e.rps).toFixed(2)} |`,
      );
    }
    process.stdout.write('\r\x1b[K');
    process.stdout.write(
      [
        `redis-benchmark SET, 64-byte values, ${opts.requests} requests (1 client: a fifth), median of ${opts.rounds}`,
        '',
        '| | everysec | always | always ÷ everysec |',
        '| --- | --- | --- | --- |',
        ...rows,
        '',
      ].join('\n'),
    );
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    bench.remove();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

await main();
