import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type PostgresHandle,
  postgresService,
  type RedisServerHandle,
  redisService,
  Supervisor,
  startPostgres,
  startRedisServer,
} from './index.ts';

/** Sends one command in RESP over a fresh TCP connection and returns the first reply line. */
function redisCommand(port: number, ...args: string[]): Promise<string> {
  const request = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write(request));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const lines = received.split('\r\n');
      // Bulk replies ($n) carry their value on the next line.
      const done = lines[0]?.startsWith('$') && lines[0] !== '$-1' ? lines.length >= 3 : lines.length >= 2;
      if (done) {
        socket.destroy();
        resolve(lines[0]?.startsWith('$') && lines[0] !== '$-1' ? lines[1]! : lines[0]!);
      }
    });
    socket.on('error', reject);
  });
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The value of one `CONFIG GET` parameter (the reply's last line). */
async function configValue(port: number, parameter: string): Promise<string> {
  const request = `*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$${parameter.length}\r\n${parameter}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write(request));
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
      const lines = received.split('\r\n');
      if (lines.length >= 6) {
        socket.destroy();
        resolve(lines[4]!);
      }
    });
    socket.on('error', reject);
  });
}

describe('devstack', () => {
  const running: { stop(): Promise<void> }[] = [];
  let root = '';

  afterAll(async () => {
    await Promise.all(running.map((server) => server.stop()));
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function start<T extends RedisServerHandle | PostgresHandle>(handle: Promise<T>): Promise<T> {
    const server = await handle;
    running.push(server);
    return server;
  }

  it('runs redis-server with AOF data that survives a restart and a leftover server', async () => {
    root = await mkdtemp(join(tmpdir(), 'devstack-test-'));
    const dataDir = join(root, 'redis');
    const first = await start(startRedisServer({ dataDir }));
    expect(first.url).toBe(`redis://127.0.0.1:${first.port}`);
    expect(await redisCommand(first.port, 'PING')).toBe('+PONG');
    expect(await redisCommand(first.port, 'SET', 'greeting', 'hello')).toBe('+OK');
    expect(await redisCommand(first.port, 'CONFIG', 'GET', 'maxmemory-policy')).toBe('*2');
    expect(await configValue(first.port, 'appendfsync')).toBe('always');

    // Not stopped: the next start on the same dataDir must take over from it.
    const second = await start(startRedisServer({ dataDir }));
    expect(second.port).not.toBe(first.port);
    expect(await redisCommand(second.port, 'GET', 'greeting')).toBe('hello');
    await expect(redisCommand(first.port, 'PING')).rejects.toThrow();
    await first.stop();
    await second.stop();
    await expect(redisCommand(second.port, 'PING')).rejects.toThrow();
  }, 60_000);

  it('reports a missing redis-server binary clearly', async () => {
    await expect(
      startRedisServer({ dataDir: join(root, 'redis-missing'), bin: 'redis-server-does-not-exist' }),
    ).rejects.toThrow(/not found: install it \(Debian: apt-get install redis-server\) or set REDIS_URL/);
  });

  it('runs PostgreSQL, creates databases from a template, and restarts without re-initialising', async () => {
    const dataDir = join(root, 'postgres');
    const lines: string[] = [];
    const pgServer = await start(startPostgres({ dataDir, onLog: (line) => lines.push(line) }));
    expect(pgServer.url).toBe(`postgres://postgres:postgres@127.0.0.1:${pgServer.port}/postgres`);
    expect(await query(pgServer.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(await query(pgServer.url, 'SHOW max_connections')).toEqual([{ max_connections: '300' }]);
    expect(await query(pgServer.url, 'SHOW fsync')).toEqual([{ fsync: 'on' }]);
    expect(await query(pgServer.url, 'SHOW server_encoding')).toEqual([{ server_encoding: 'UTF8' }]);
    expect(lines.some((line) => line.includes('ready to accept connections'))).toBe(true);

    await pgServer.createDatabase('tmpl');
    await query(
      pgServer.urlFor('tmpl'),
      'CREATE TABLE marker (v text); INSERT INTO marker VALUES ($$from-template$$)',
    );
    await pgServer.createDatabase('copy', { template: 'tmpl' });
    expect(await query(pgServer.urlFor('copy'), 'SELECT v FROM marker')).toEqual([{ v: 'from-template' }]);
    await pgServer.dropDatabase('copy');
    await pgServer.dropDatabase('copy'); // idempotent
    await pgServer.stop();
    await pgServer.stop(); // idempotent

    // A killed run leaves postmaster.pid behind; a dead pid in it must not block the next start.
    const versionBefore = await stat(join(dataDir, 'PG_VERSION'));
    await writeFile(join(dataDir, 'postmaster.pid'), `4194000\n${dataDir}\n`);
    const again = await start(startPostgres({ dataDir }));
    expect((await stat(join(dataDir, 'PG_VERSION'))).mtimeMs).toBe(versionBefore.mtimeMs);
    expect(await query(again.urlFor('tmpl'), 'SELECT v FROM marker')).toEqual([{ v: 'from-template' }]);
    await again.stop();
  }, 120_000);

  it('runs redis-server with appendfsync everysec when asked', async () => {
    const redis = await start(
      startRedisServer({ dataDir: join(root, 'redis-everysec'), appendfsync: 'everysec' }),
    );
    expect(await configValue(redis.port, 'appendfsync')).toBe('everysec');
    await redis.stop();
    expect(await redis.exited).toEqual({ code: 0, signal: null });
  });

  it('brings SIGKILLed redis-server and PostgreSQL back on their ports with their data', async () => {
    const supervisor = new Supervisor({ backoff: { initialDelayMs: 50 } });
    running.push(supervisor);
    const redis = await supervisor.add(redisService({ dataDir: join(root, 'supervised-redis') }));
    const pgServer = await supervisor.add(postgresService({ dataDir: join(root, 'supervised-postgres') }));
    expect(await redisCommand(redis.port, 'SET', 'accepted', 'turn-1')).toBe('+OK');
    await query(pgServer.url, 'CREATE TABLE committed (v text); INSERT INTO committed VALUES ($$row-1$$)');

    const redisBack = supervisor.nextReady('redis-server', 30_000);
    supervisor.kill('redis-server');
    expect(await redis.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await redisBack).url).toBe(redis.url);
    expect(await redisCommand(redis.port, 'GET', 'accepted')).toBe('turn-1');

    const pgBack = supervisor.nextReady('postgres', 30_000);
    supervisor.kill('postgres');
    expect(await pgServer.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The killed postmaster leaves its lock file behind, naming a pid that is gone.
    expect(await readFile(join(pgServer.dataDir, 'postmaster.pid'), 'utf8')).toMatch(
      new RegExp(`^${pgServer.pid}\n`),
    );
    const back = await pgBack;
    expect(back.pid).not.toBe(pgServer.pid);
    expect(back.url).toBe(pgServer.url);
    expect(await query(pgServer.url, 'SELECT v FROM committed')).toEqual([{ v: 'row-1' }]);
    expect(supervisor.list().map((s) => [s.name, s.restarts, s.state])).toEqual([
      ['redis-server', 1, 'running'],
      ['postgres', 1, 'running'],
    ]);
    await supervisor.stop();
  }, 120_000);
});
