import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, stripVTControlCharacters } from 'node:util';
import { ApiKeyStore } from '@agent-fleet/state';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { postMessage, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const CLI = join(root, 'packages/cli/src/main.ts');
const JWT_SECRET = 'fleet-top-test-secret-long-enough-for-hs256';

/** A command in a pseudo-terminal of 180 x 50 (util-linux `script`), its output kept as it comes. */
function inPty(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const quoted = args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', `stty rows 50 cols 180; exec ${quoted}`, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: process.env,
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** The last whole screen drawn: each frame starts at the home position and ends clearing below. */
function lastScreen(output: string): string {
  const frames = output.split('\x1b[H').filter((f) => f.includes('\x1b[J'));
  const last = frames.at(-1) ?? '';
  return stripVTControlCharacters(last.slice(0, last.indexOf('\x1b[J')));
}

describe('fleet top in a pseudo-terminal, against a real gateway and workers', () => {
  const { sim, fleet } = useSimFleet({
    // Every model call takes 2.5 s, so turns are running while the screen is read.
    sim: { latencyMs: 2500 },
    workers: 2,
    env: { AUTH_MODE: 'required', JWT_SECRET, RAG_TOP_K: '0' },
  });
  let adminKey: string;
  const auth = () => ({ authorization: `Bearer ${adminKey}` });

  beforeAll(async () => {
    const pool = new pg.Pool({ connectionString: fleet.databaseUrl, max: 1 });
    adminKey = (await new ApiKeyStore({ pool }).create({ name: 'ops', scopes: ['admin'] })).key;
    await pool.end();
    await fleet.workersReady();
    for (const user of ['top-ada', 'top-bob', 'top-cy']) {
      const res = await fetch(`${fleet.gatewayUrl}/v1/users/${user}/profile`, {
        method: 'PUT',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: JSON.stringify({ tenant: 'acme', groups: [] }),
      });
      expect(res.status).toBe(200);
    }
  });

  it('shows queues, workers, LLM servers, the running turns with their stage and tenants; keys sort, filter and quit', async () => {
    // Each user sends three messages: one runs (2.5 s per model call), the others wait behind it.
    const users = ['top-ada', 'top-bob', 'top-cy'];
    for (let i = 0; i < 3; i++)
      for (const u of users) await postMessage(fleet.gatewayUrl, u, `question ${i}`, auth());
    const top = inPty([
      'node',
      CLI,
      'top',
      '--url',
      fleet.gatewayUrl,
      '--key',
      adminKey,
      '--interval',
      '0.3',
    ]);
    try {
      const screenShows = (patterns: RegExp[], timeoutMs = 30_000) =>
        waitFor(async () => patterns.every((p) => p.test(lastScreen(top.output()))), {
          timeoutMs,
          describe: () => lastScreen(top.output()) || top.output().slice(-2000),
        });
      await screenShows([
        /^QUEUES {2}11 /m,
        /^WORKERS {2}2 /m,
        new RegExp(`^${sim.url.replace(/[.]/g, '\\.')}\\s+\\d+\\s`, 'm'),
        /^SLOWEST RUNNING TURNS {2}3 {2}sorted by running desc/m,
        /^t_\S+\s+top-(ada|bob|cy)\s+acme\s+model\s/m,
      ]);
      // Tokens per tenant arrive once turns have finished model calls.
      await screenShows([/^acme\s+[1-9][\d,]*\s/m], 45_000);
      expect(lastScreen(top.output())).toMatch(/^agent\.p\d+\s+[1-9]/m);

      // s: the focused section (the turns) sorts by its next column.
      top.child.stdin!.write('s');
      await screenShows([/^SLOWEST RUNNING TURNS .*sorted by in stage desc/m]);
      // /top-bob Enter: every section keeps only what mentions top-bob.
      top.child.stdin!.write('/top-bob\r');
      await screenShows([/^QUEUES {2}0 of 11 /m, /^SLOWEST RUNNING TURNS {2}1 of 3 /m, /filter "top-bob"/]);
      expect(lastScreen(top.output())).not.toMatch(/top-ada|top-cy/);
      // q quits and gives the terminal back (the main screen, the cursor).
      top.child.stdin!.write('q');
      expect(await top.exited).toBe(0);
      expect(top.output()).toContain('\x1b[?1049l');
    } finally {
      top.child.kill('SIGKILL');
    }
  });

  it('prints one screen with --once, and refuses a key without the admin scope', async () => {
    const run = promisify(execFile);
    const once = await run('node', [CLI, 'top', '--once', '--url', fleet.gatewayUrl, '--key', adminKey]);
    expect(once.stdout).toMatch(/^QUEUES {2}11 /m);
    const pool = new pg.Pool({ connectionString: fleet.databaseUrl, max: 1 });
    const reader = (await new ApiKeyStore({ pool }).create({ name: 'reader', scopes: ['turns:read'] })).key;
    await pool.end();
    const refused = await run('node', [
      CLI,
      'top',
      '--once',
      '--url',
      fleet.gatewayUrl,
      '--key',
      reader,
    ]).catch((err: { code: number; stderr: string }) => err);
    expect(refused).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^fleet top: 403: this route needs the admin scope/),
    });
  });
});
