import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import getPort from 'get-port';
import { execFileAsync } from './process-tools.ts';
import { type AppendFsyncPolicy, type RedisServerHandle, startRedisServer } from './redis-server.ts';

const HOST = '127.0.0.1';

export interface StartRedisClusterOptions {
  /** Each node keeps its AOF and `nodes.conf` in a folder of its own under this one. */
  dataDir: string;
  /** Masters, each serving an equal share of the 16384 slots. Default 3 (the fewest Redis allows). */
  masters?: number;
  /** Replicas of each master, promoted when it fails. Default 1. */
  replicasPerMaster?: number;
  /**
   * `cluster-node-timeout`: how long a master may be unreachable before the others count it as
   * failed and its replica takes over. Default 15000 (Redis's); tests use less.
   */
  nodeTimeoutMs?: number;
  /** Every node asks clients and replicas for this password (`requirepass`, `masterauth`). */
  password?: string;
  /** AOF fsync policy of every node (see `StartRedisServerOptions.appendfsync`). Default `always`. */
  appendfsync?: AppendFsyncPolicy;
  /** Defaults to `redis-server` and `redis-cli` from PATH. */
  bin?: string;
  cliBin?: string;
  /** How long to wait for the cluster to form and its replicas to sync. Default 60 s. */
  readyTimeoutMs?: number;
}

/** One node as CLUSTER NODES reports it. */
export interface ClusterNodeView {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** The id of the master a replica follows. */
  masterId: string | undefined;
  /** Flagged `fail` (or `fail?`) by the node asked. */
  failing: boolean;
  /** The slot ranges a master serves, `[first, last]`. */
  slots: [number, number][];
}

/** A Redis Cluster of redis-server children of this process on 127.0.0.1. */
export interface RedisClusterHandle {
  /**
   * Every node, comma-separated, as REDIS_CLUSTER_NODES takes them: `127.0.0.1:<port>`, or
   * `redis://:<password>@127.0.0.1:<port>` with a password.
   */
  readonly nodeList: string;
  readonly ports: readonly number[];
  /** The cluster as a node that answers sees it (CLUSTER NODES). */
  topology(): Promise<ClusterNodeView[]>;
  /** The pid of the node on `port`, or undefined while it is down. */
  pidOf(port: number): number | undefined;
  /** SIGKILLs the node on `port` (no shutdown, no AOF fsync); resolves once it has exited. */
  kill(port: number): Promise<void>;
  /**
   * Starts the node on `port` again with its data and `nodes.conf`: it rejoins the cluster, a master
   * that was failed over as a replica of the master that replaced it.
   */
  restart(port: number): Promise<void>;
  /** Resolves once every node sees the cluster ok with every slot served, and every replica in sync. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/**
 * Starts a Redis Cluster from the system's `redis-server` on free loopback ports: `masters` ×
 * (1 + `replicasPerMaster`) nodes with AOF persistence and `noeviction`, joined with
 * `redis-cli --cluster create`; resolves once the cluster is healthy (see `waitUntilHealthy`).
 * Every node is a child of this process and is killed if it exits.
 */
export async function startRedisCluster(opts: StartRedisClusterOptions): Promise<RedisClusterHandle> {
  const dataDir = resolve(opts.dataDir);
  const count = (opts.masters ?? 3) * (1 + (opts.replicasPerMaster ?? 1));
  const nodes = new Map<number, { dir: string; busPort: number; server: RedisServerHandle | undefined }>();
  const start = async (port: number) => {
    const node = nodes.get(port)!;
    node.server = await startRedisServer({
      dataDir: node.dir,
      port,
      ...(opts.bin ? { bin: opts.bin } : {}),
      appendfsync: opts.appendfsync ?? 'always',
      // biome-ignore format: one flag and its value per line
      extraArgs: [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 15_000),
        '--cluster-port', String(node.busPort),
        // A replica syncs at once instead of waiting 5 s for others to share the transfer.
        '--repl-diskless-sync-delay', '0',
        ...(opts.password ? ['--requirepass', opts.password, '--masterauth', opts.password] : []),
      ],
    });
  };
  const stop = () => Promise.all([...nodes.values()].map((n) => n.server?.stop())).then(() => {});
  try {
    for (let i = 0; i < count; i++) {
      // The cluster bus port is set apart: the default (port + 10000) may be taken or out of range.
      const [port, busPort] = [await getPort({ host: HOST }), await getPort({ host: HOST })];
      nodes.set(port, { dir: join(dataDir, `node-${i}`), busPort, server: undefined });
      await mkdir(join(dataDir, `node-${i}`), { recursive: true });
    }
    await Promise.all([...nodes.keys()].map(start));
    const auth = opts.password ? ['-a', opts.password, '--no-auth-warning'] : [];
    const cli = (port: number, ...args: string[]) => redisCli(opts.cliBin, port, [...auth, ...args]);
    const ports = [...nodes.keys()];
    await createCluster(opts.cliBin, ports, opts.replicasPerMaster ?? 1, auth);
    const credentials = opts.password ? `redis://:${encodeURIComponent(opts.password)}@` : '';
    const handle: RedisClusterHandle = {
      nodeList: ports.map((p) => `${credentials}${HOST}:${p}`).join(','),
      ports,
      async topology() {
        const up = ports.filter((p) => nodes.get(p)?.server);
        return parseClusterNodes(await firstAnswer(up, (p) => cli(p, 'CLUSTER', 'NODES')));
      },
      pidOf: (port) => nodes.get(port)?.server?.pid,
      async kill(port) {
        const node = nodes.get(port);
        const server = node?.server;
        if (!node || !server) return;
        node.server = undefined;
        process.kill(server.pid, 'SIGKILL');
        await server.exited;
      },
      restart: (port) => start(port),
      waitUntilHealthy: (timeoutMs = opts.readyTimeoutMs ?? 60_000) =>
        waitUntilHealthy(
          ports.filter((p) => nodes.get(p)?.server),
          cli,
          timeoutMs,
        ),
      stop,
    };
    await handle.waitUntilHealthy();
    return handle;
  } catch (err) {
    await stop();
    throw err;
  }
}

async function redisCli(bin: string | undefined, port: number, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(bin ?? 'redis-cli', ['-h', HOST, '-p', String(port), ...args], {
    timeout: 10_000,
  });
  return stdout;
}

async function createCluster(
  bin: string | undefined,
  ports: number[],
  replicas: number,
  auth: string[],
): Promise<void> {
  const args = [...auth, '--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`)];
  args.push('--cluster-replicas', String(replicas), '--cluster-yes');
  try {
    await execFileAsync(bin ?? 'redis-cli', args, { timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('redis-cli not found: install it (Debian: apt-get install redis-tools)');
    throw new Error(`redis-cli --cluster create failed: ${e.stderr || e.stdout || e.message}`);
  }
}

async function firstAnswer(ports: number[], ask: (port: number) => Promise<string>): Promise<string> {
  let last: unknown;
  for (const port of ports) {
    try {
      return await ask(port);
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no cluster node answered: ${(last as Error | undefined)?.message ?? 'none is running'}`);
}

/** `key:value` lines (CLUSTER INFO, INFO) as a record. */
function fields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}

/** Why the node on `port` is not healthy yet, or null when it is. */
async function nodeProblem(
  port: number,
  expectedNodes: number,
  cli: (port: number, ...args: string[]) => Promise<string>,
): Promise<string | null> {
  const info = fields(await cli(port, 'CLUSTER', 'INFO'));
  if (info.cluster_state !== 'ok') return `cluster_state ${info.cluster_state}`;
  if (info.cluster_slots_ok !== '16384') return `${info.cluster_slots_ok} slots ok`;
  if (Number(info.cluster_known_nodes) < expectedNodes) return `knows ${info.cluster_known_nodes} nodes`;
  const replication = fields(await cli(port, 'INFO', 'replication'));
  if (replication.role === 'slave' && replication.master_link_status !== 'up')
    return `replica link ${replication.master_link_status}`;
  if (replication.master_sync_in_progress === '1') return 'replica syncing';
  return null;
}

async function waitUntilHealthy(
  ports: number[],
  cli: (port: number, ...args: string[]) => Promise<string>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problem = '';
  while (Date.now() < deadline) {
    const problems = await Promise.all(
      ports.map((p) =>
        nodeProblem(p, ports.length, cli).then(
          (why) => (why ? `${p}: ${why}` : null),
          (err: Error) => `${p}: ${err.message}`,
        ),
      ),
    );
    problem = problems.filter(Boolean).join('; ');
    if (!problem) return;
    await sleep(100);
  }
  throw new Error(`the Redis Cluster is not healthy after ${timeoutMs} ms: ${problem}`);
}

/** CLUSTER NODES, parsed (slots being migrated, `[...]`, are left out). */
export function parseClusterNodes(text: string): ClusterNodeView[] {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ');
      const flagSet = new Set(flags.split(','));
      return {
        id,
        port: Number(address.split('@')[0]!.split(':').at(-1)),
        role: flagSet.has('master') ? 'master' : 'replica',
        masterId: master === '-' ? undefined : master,
        failing: flagSet.has('fail') || flagSet.has('fail?'),
        slots: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [first = '0', last = first] = s.split('-');
            return [Number(first), Number(last)] as [number, number];
          }),
      } satisfies ClusterNodeView;
    });
}
