import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FleetConfig } from '@agent-fleet/core';
import getPort from 'get-port';
import {
  commandLineOf,
  exitStatus,
  isAlive,
  LineTail,
  onProcessExit,
  stopChild,
  tailOfFile,
  terminatePid,
} from './process-tools.ts';
import type { ProcessRun } from './supervisor.ts';

/** When redis-server fsyncs its AOF: before answering each write (`always`) or once a second. */
export type AppendFsyncPolicy = FleetConfig['REDIS_APPENDFSYNC'];

/** A running redis-server child of this process. */
export interface RedisServerHandle extends ProcessRun {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Absolute path of the directory holding the AOF files, `redis.log` and `redis.pid`. */
  dataDir: string;
  /** SIGTERM (Redis fsyncs the AOF and exits), SIGKILL after 5 s; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** Created if missing; AOF data in it is reused, so data persists across runs. */
  dataDir: string;
  /** Defaults to a free port. */
  port?: number;
  /** Defaults to `redis-server` from PATH. */
  bin?: string;
  /** How long to wait for PONG (loading a large AOF takes a while). Defaults to 60 s. */
  readyTimeoutMs?: number;
  /**
   * `always` (the default): a write is in the AOF on disk before Redis answers it, so whatever a
   * client was told succeeded survives a SIGKILL of redis-server and a crash of the machine.
   * `everysec`: cheaper; a crash of the machine loses up to the last two seconds of writes, and so
   * can a SIGKILL while a slow background fsync makes Redis hold writes back.
   */
  appendfsync?: AppendFsyncPolicy;
  /** Runs redis-server in a process group of its own (see `ServiceOptions.detached`). */
  detached?: boolean;
  /** More flags after the ones above (a cluster node's `--cluster-enabled yes`, ...). */
  extraArgs?: readonly string[];
}

const HOST = '127.0.0.1';
const STOP_GRACE_MS = 5_000;

/**
 * Spawns `redis-server` on 127.0.0.1 with AOF persistence (see `appendfsync`), no RDB snapshots and
 * `noeviction`, and resolves once it answers PING. A redis-server left running on the same dataDir
 * by an earlier run that was killed (found through `redis.pid`) is shut down first, since two
 * servers appending to one AOF would corrupt it. The child is killed if this process exits.
 */
export async function startRedisServer(opts: StartRedisServerOptions): Promise<RedisServerHandle> {
  const dataDir = resolve(opts.dataDir);
  const bin = opts.bin ?? 'redis-server';
  const logFile = join(dataDir, 'redis.log');
  const pidFile = join(dataDir, 'redis.pid');
  await mkdir(dataDir, { recursive: true });
  await stopLeftoverServer(pidFile);
  const port = opts.port ?? (await getPort({ host: HOST }));

  // Flags accepted by Redis 7.0; an empty argument after --save disables RDB snapshots.
  // biome-ignore format: one flag and its value per line
  const args = [
    '--bind', HOST,
    '--port', String(port),
    '--appendonly', 'yes',
    '--appendfsync', opts.appendfsync ?? 'always',
    '--maxmemory-policy', 'noeviction',
    '--save', '',
    '--protected-mode', 'no',
    '--daemonize', 'no',
    '--dir', dataDir,
    '--logfile', logFile,
    '--pidfile', pidFile,
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
  const output = new LineTail(20);
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));

  try {
    await spawned(child);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const what = bin === 'redis-server' ? 'redis-server' : `redis-server (${bin})`;
      throw new Error(
        `${what} not found: install it (Debian: apt-get install redis-server) or set REDIS_URL`,
      );
    }
    throw new Error(`could not start ${bin}: ${(err as Error).message}`, { cause: err });
  }

  const unregister = onProcessExit(() => child.kill('SIGTERM'));
  child.once('exit', unregister);

  try {
    await waitForPong(child, port, opts.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await stopChild(child, 'SIGTERM', STOP_GRACE_MS);
    const log = [output.text(), await tailOfFile(logFile, 20)].filter(Boolean).join('\n');
    throw new Error(`${(err as Error).message}${log ? `\n--- redis output (${logFile}) ---\n${log}` : ''}`);
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `redis://${HOST}:${port}`,
    port,
    pid: child.pid!,
    exited: exitStatus(child),
    dataDir,
    stop() {
      stopping ??= stopChild(child, 'SIGTERM', STOP_GRACE_MS).finally(unregister);
      return stopping;
    },
  };
}

function spawned(child: ChildProcess): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    child.once('spawn', () => {
      child.off('error', reject);
      resolvePromise();
    });
    child.once('error', reject);
  });
}

async function stopLeftoverServer(pidFile: string): Promise<void> {
  const pid = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
  if (Number.isInteger(pid) && pid > 0 && (await isAlive(pid))) {
    // Redis rewrites its title to "redis-server host:port"; anything else is a recycled pid.
    const cmd = await commandLineOf(pid);
    if (cmd.includes('redis')) {
      await terminatePid(pid, [
        ['SIGTERM', 10_000],
        ['SIGKILL', 5_000],
      ]);
    }
  }
  await rm(pidFile, { force: true });
}

async function waitForPong(child: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastReply = '';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const how = child.exitCode !== null ? `exit code ${child.exitCode}` : `signal ${child.signalCode}`;
      throw new Error(`redis-server exited before it was ready (${how})`);
    }
    const reply = await ping(port);
    // A server with a password answers NOAUTH: it is up.
    if (reply === '+PONG' || reply.startsWith('-NOAUTH')) return;
    if (reply) lastReply = reply; // e.g. "-LOADING Redis is loading the dataset in memory"
    if (Date.now() >= deadline) {
      throw new Error(
        `redis-server on ${HOST}:${port} did not answer PING within ${timeoutMs} ms${lastReply ? ` (last reply: ${lastReply})` : ''}`,
      );
    }
    await sleep(50);
  }
}

/** One PING over a fresh TCP connection: the first reply line, or '' on any connection error. */
function ping(port: number): Promise<string> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host: HOST, port });
    let received = '';
    const finish = (reply: string) => {
      socket.destroy();
      resolvePromise(reply);
    };
    socket.setTimeout(1_000, () => finish(''));
    socket.once('error', () => finish(''));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\r\n');
      if (end >= 0) finish(received.slice(0, end));
    });
  });
}
