import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKeyStore } from '@agent-fleet/state';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/fleet.ts';
import { simAdmin } from './support/sim-admin.ts';
import { useSimFleet } from './support/sim-fleet.ts';

const CLI = fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url));
const TENANT = 'acme';
const CHECKLIST = `items:
  - id: retention
    requirement: Customer records are kept for five years after the relationship ends.
  - id: gifts
    requirement: Gifts above the threshold need approval before they are accepted.
`;
const CASES = Array.from({ length: 10 }, (_, i) => `cli-case-${i + 1}`);

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `fleet review ...` as a user runs it (`pnpm fleet` passes the same condition), in `cwd`. */
function fleetReview(args: string[], env: Record<string, string>, cwd: string) {
  const child = spawn(process.execPath, ['--conditions=@agent-fleet/source', CLI, 'review', ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => {
    out.stdout += d;
  });
  child.stderr.on('data', (d) => {
    out.stderr += d;
  });
  const done = new Promise<Result>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, ...out })),
  );
  return { child: child as ChildProcess, out, done };
}

/**
 * `fleet review` against gateway and worker processes and the simulator: the credentials `fleet
 * start` records, files uploaded with the run, the report on disk, the trust checks the simulator's
 * faults trigger, bad arguments, and Ctrl-C cancelling the run through the API.
 */
describe('fleet review', () => {
  const { sim, fleet } = useSimFleet({
    workers: 1,
    env: {
      LOG_LEVEL: 'warn',
      AUTH_MODE: 'required',
      JWT_SECRET: 'cli-review-test-secret-long-enough-000',
      REVIEW_CONCURRENCY: '2',
    },
  });
  const admin = simAdmin(sim);
  let work: string;
  let fleetDir: string;
  let apiKey: string;

  const api = async (path: string) =>
    (await (
      await fetch(`${fleet.gatewayUrl}${path}`, { headers: { authorization: `Bearer ${apiKey}` } })
    ).json()) as Record<string, unknown>;

  beforeAll(async () => {
    apiKey = (
      await new ApiKeyStore({ pool: fleet.pool }).create({
        name: 'npm start admin',
        scopes: ['admin'],
        actAsUsers: true,
      })
    ).key;
    // What `fleet start` leaves in .fleet for other commands: the running stack and the dev admin key.
    fleetDir = mkdtempSync(join(tmpdir(), 'fleet-dir-'));
    writeFileSync(
      join(fleetDir, 'stack.json'),
      JSON.stringify({
        pid: process.pid,
        redisUrl: '',
        databaseUrl: '',
        llmBaseUrls: sim.url,
        gatewayUrl: fleet.gatewayUrl,
      }),
    );
    writeFileSync(join(fleetDir, 'dev-auth.json'), JSON.stringify({ adminKey: apiKey, jwtSecret: 'x' }));
    work = mkdtempSync(join(tmpdir(), 'fleet-review-'));
    writeFileSync(join(work, 'checklist.yaml'), CHECKLIST);
    mkdirSync(join(work, 'contracts', 'nested'), { recursive: true });
    writeFileSync(
      join(work, 'contracts', 'supplier.md'),
      '# Supplier\n\nCustomer records are kept for five years after the relationship ends.\n',
    );
    writeFileSync(
      join(work, 'contracts', 'nested', 'gifts.md'),
      '# Gifts\n\nGifts above the threshold were accepted without approval.\n',
    );
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    const put = await fetch(`${fleet.gatewayUrl}/v1/users/ann/profile`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ tenant: TENANT, groups: ['compliance'] }),
    });
    expect(put.status).toBe(200);
    for (const docId of CASES) {
      const res = await fetch(`${fleet.gatewayUrl}/v1/documents`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          docId,
          title: docId,
          tenant: TENANT,
          acl: ['compliance'],
          text: `# ${docId}\n\nCustomer records are kept for five years after the relationship ends.\n\nGifts above the threshold need approval.`,
        }),
      });
      expect(res.status).toBe(201);
    }
    await fleet.workersReady();
  });

  it('refuses bad arguments with a message and a non-zero exit, before anything is created', async () => {
    const env = { FLEET_DIR: fleetDir };
    const cases: [string[], RegExp][] = [
      [['--as', 'ann', '--docs', 'cli-case-1'], /required option '-c, --checklist <file>'/],
      [['-c', 'checklist.yaml', '--as', 'ann'], /nothing to review/],
      [['-c', 'checklist.yaml', '--as', 'ann', '--prefix', 'x'], /--prefix selects within a tenant/],
      [['-c', 'checklist.yaml', '--as', 'ann', 'contracts'], /--acl <groups>/],
      [
        ['-c', 'checklist.yaml', '--as', 'ann', '--docs', 'a', '--out', 'r.pdf'],
        /cannot tell the report format/,
      ],
      [
        ['-c', 'missing.yaml', '--as', 'ann', '--docs', 'a'],
        /cannot read the checklist missing\.yaml: ENOENT/,
      ],
      [
        ['-c', 'checklist.yaml', '--as', 'ann', '--docs', 'a', '--format', 'pdf'],
        /argument 'pdf' is invalid/,
      ],
      [['-c', 'checklist.yaml', '--as', 'not a user', '--docs', 'a'], /a userId is 1-128 letters/],
      [['-c', 'checklist.yaml', '--as', 'nobody', '--docs', 'a'], /user nobody has no profile/],
    ];
    for (const [args, message] of cases) {
      const res = await fleetReview(args, env, work).done;
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stderr, args.join(' ')).toMatch(message);
    }
    const noGateway = await fleetReview(
      ['-c', 'checklist.yaml', '--as', 'ann', '--docs', 'a'],
      { FLEET_DIR: work },
      work,
    ).done;
    expect(noGateway.stderr).toMatch(/no gateway: start the fleet with `npm start`/);
    expect(((await api('/v1/reviews')).reviews as unknown[]).length).toBe(0);
  });

  it('uploads files with the run, shows progress, and writes the report where --out says', async () => {
    const run = fleetReview(
      [
        'contracts',
        '--docs',
        'cli-case-1,cli-case-2',
        '-c',
        'checklist.yaml',
        '--as',
        'ann',
        '--acl',
        'compliance',
        '-o',
        'out/report.html',
      ],
      { FLEET_DIR: fleetDir },
      work,
    );
    mkdirSync(join(work, 'out'), { recursive: true });
    const res = await run.done;
    expect(res.stderr).toMatch(/review r_[0-9a-f]{32} started/);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/reviewing \[.*\] 4\/4 documents \| [\d.-]+ docs\/min \| ETA /);
    expect(res.stdout).toMatch(/completed: 4 of 4 documents reviewed; .* report: out\/report\.html/);
    const html = readFileSync(join(work, 'out/report.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toMatch(/<code>supplier-[0-9a-f]{12}<\/code>/);
  });

  it('records what the trust checks decide when the simulator fabricates quotes or breaks its JSON', async () => {
    for (const [fault, reason] of [
      ['fabricatedQuoteRate', 'unverifiable_evidence'],
      ['brokenJsonRate', 'invalid_output'],
    ] as const) {
      await admin.config({ [fault]: 1 });
      try {
        const out = `${fault}.json`;
        const res = await fleetReview(
          ['--docs', 'cli-case-3', '-c', 'checklist.yaml', '--as', 'ann', '-o', out, '--no-progress'],
          { FLEET_DIR: fleetDir },
          work,
        ).done;
        expect(res.code, res.stderr).toBe(0);
        const report = JSON.parse(readFileSync(join(work, out), 'utf8')) as {
          findings: { verdict: string; reason?: string; evidence: unknown[] }[];
        };
        expect(report.findings).toHaveLength(2);
        for (const f of report.findings)
          expect(f).toMatchObject({ verdict: 'unclear', reason, evidence: [] });
      } finally {
        await admin.config({ [fault]: 0 });
      }
    }
  });

  it('Ctrl-C cancels the run through the API, keeps what was recorded, writes no report and exits 130', async () => {
    await admin.config({ latencyMs: 400 });
    try {
      const run = fleetReview(
        [
          '--tenant',
          TENANT,
          '--prefix',
          'cli-case-',
          '-c',
          'checklist.yaml',
          '--as',
          'ann',
          '-o',
          'cancelled.md',
        ],
        { FLEET_DIR: fleetDir },
        work,
      );
      let reviewId = '';
      await waitFor(
        async () => {
          reviewId = /review (r_[0-9a-f]{32}) started/.exec(run.out.stderr)?.[1] ?? '';
          return (
            reviewId !== '' &&
            ((await api(`/v1/reviews/${reviewId}`)).documents as { done: number }).done >= 1
          );
        },
        { timeoutMs: 30_000, intervalMs: 50, describe: () => run.out.stderr },
      );
      run.child.kill('SIGINT');
      const res = await run.done;
      expect(res.code, res.stderr).toBe(130);
      expect(res.stderr).toMatch(
        new RegExp(`cancelled review ${reviewId} after \\d+ of ${CASES.length} documents`),
      );
      const status = await api(`/v1/reviews/${reviewId}`);
      expect(status.status).toBe('cancelled');
      expect((status.documents as { done: number }).done).toBeLessThan(CASES.length);
      expect(existsSync(join(work, 'cancelled.md'))).toBe(false);
    } finally {
      await admin.config({ latencyMs: 0 });
    }
  });
});
