import { spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClientDist } from './support/sdk-build.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const CLIENT = join(root, 'packages/client');
/** What the SDK declares it needs at run time; a consumer has these and nothing of the workspace. */
const RUNTIME_DEPS = ['@opentelemetry/api', 'bullmq', 'ioredis', 'zod'];
const NODE_BUILTINS = new Set(builtinModules);

/**
 * Code a consumer writes against the SDK. Every `@ts-expect-error` must find its error: were a type
 * of the SDK unresolved (and so `any`), the directive would be unused and the check would fail.
 */
const CONSUMER = `
import {
  FINAL_STATUSES,
  FleetApiError,
  FleetClient,
  FleetHttpClient,
  isFinalStatus,
  isRestingReviewStatus,
  REVIEW_STATUSES,
  TURN_STATUSES,
  VERDICTS,
  type FinalStatus,
  type ReviewReport,
  type ReviewStatus,
  type ReviewStreamEvent,
  type TurnRecord,
  type TurnStatus,
  type Verdict,
} from '@agent-fleet/client';
import { FleetHttpClient as GatewayOnly } from '@agent-fleet/client/http';

export function describeStatus(status: TurnStatus): string {
  switch (status) {
    case 'queued':
    case 'running':
      return 'in progress';
    case 'completed':
      return 'answered';
    case 'failed':
    case 'cancelled':
    case 'interrupted':
      return 'ended without an answer';
    default: {
      const unknown: never = status;
      return unknown;
    }
  }
}

export async function follow(): Promise<FinalStatus | 'gone'> {
  const fleet = new FleetClient({ connection: 'redis://127.0.0.1:6379', namespace: 'fleet', partitions: 8 });
  const sent = await fleet.send({ userId: 'alice', text: 'hello', idempotencyKey: 'k-1' });
  const turn: TurnRecord = await fleet.waitForTurn(sent.turnId, { timeoutMs: 1000 });
  const api = new FleetHttpClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: 'fk_x' });
  for await (const event of api.streamTurn(sent.turnId)) if (isFinalStatus(event.status)) break;
  const gateway = new GatewayOnly({ baseUrl: 'http://127.0.0.1:8080' });
  try {
    await gateway.sendMessage('alice', { text: 'again' });
  } catch (err) {
    if (err instanceof FleetApiError) return err.httpStatus === 404 ? 'gone' : 'failed';
  }
  await fleet.close();
  const statuses: readonly TurnStatus[] = TURN_STATUSES;
  return isFinalStatus(turn.status) && statuses.length > FINAL_STATUSES.length ? turn.status : 'gone';
}

export async function review(api: FleetHttpClient): Promise<string> {
  const { reviewId, scheduleId } = await api.reviews.create({
    userId: 'alice',
    documents: ['record-retention'],
    checklist: { items: [{ id: 'keep', requirement: 'Records are kept five years.' }] },
    priority: 'high',
    schedule: { cron: '0 3 * * *', tz: 'Europe/Berlin' },
  });
  await api.reviews.create({
    userId: 'alice',
    checklist: 'items: [{ id: keep, requirement: Records are kept. }]',
    files: [{ filename: 'memo.md', data: new Uint8Array([35, 32, 77]) }],
    acl: ['compliance'],
  });
  const counts: Record<Verdict, number> = { compliant: 0, non_compliant: 0, not_applicable: 0, unclear: 0 };
  for await (const event of api.reviews.stream(reviewId)) counts.unclear += progressOf(event);
  const status = await api.reviews.get(reviewId);
  if (!status || !isRestingReviewStatus(status.status)) return 'still running';
  const report: ReviewReport = await api.reviews.report(reviewId);
  for (const f of report.findings) counts[f.verdict] += f.evidence.filter((e) => e.quote.length > 0).length;
  const html: string = await api.reviews.report(reviewId, { format: 'html' });
  const changes = report.documents.map((d) => d.change ?? 'first run');
  const schedule = await api.reviews.schedule(reviewId);
  await api.reviews.cancel(reviewId);
  return [scheduleId, schedule?.nextRunAt, html.length, changes.join(), REVIEW_STATUSES.length, VERDICTS.length].join(' ');
}

function progressOf(event: ReviewStreamEvent): number {
  switch (event.type) {
    case 'snapshot':
      return event.review.documents.done;
    case 'progress':
      return event.documents.done;
    case 'status': {
      const status: ReviewStatus = event.status;
      return status === 'completed' ? 1 : 0;
    }
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

// @ts-expect-error not a verdict
export const maybe: Verdict = 'maybe';
// @ts-expect-error not a report format
export const pdf = (api: FleetHttpClient) => api.reviews.report('r_1', { format: 'pdf' });
// @ts-expect-error a text report is a string, not the JSON report
export const wrong = async (api: FleetHttpClient): Promise<ReviewReport> => api.reviews.report('r_1', { format: 'md' });
// @ts-expect-error not a status of a turn
export const bogus: TurnStatus = 'bogus';
// @ts-expect-error a record needs its turnId, userId, seq and status
export const partial: TurnRecord = { turnId: 't_1' };
`;

describe("the SDK's published type declarations", () => {
  let dist: string;
  let consumer: string;

  beforeAll(() => {
    dist = buildClientDist({ types: true });
    consumer = mkdtempSync(join(tmpdir(), 'fleet-sdk-consumer-'));
  });
  afterAll(() => {
    if (consumer) rmSync(consumer, { recursive: true, force: true });
    if (dist) rmSync(dist, { recursive: true, force: true });
  });

  it('import nothing but relative files and the runtime dependencies', () => {
    const declarations = readdirSync(dist).filter((f) => f.endsWith('.d.ts'));
    expect(declarations).toEqual(expect.arrayContaining(['index.d.ts', 'http.d.ts']));
    const imported = new Set<string>();
    for (const f of declarations)
      for (const m of readFileSync(join(dist, f), 'utf8').matchAll(/\bfrom '([^']+)'/g)) imported.add(m[1]!);
    const outside = [...imported].filter((s) => !s.startsWith('./'));
    expect(
      outside.every((s) => RUNTIME_DEPS.includes(s)),
      [...imported].join(', '),
    ).toBe(true);
  });

  it('bundle the review vocabulary and nothing of the review engine', async () => {
    const bundles = readdirSync(dist).filter((f) => f.endsWith('.js'));
    const imported = new Set<string>();
    for (const f of bundles)
      for (const m of readFileSync(join(dist, f), 'utf8').matchAll(/\bfrom "([^"]+)"/g)) imported.add(m[1]!);
    const outside = [...imported].filter((s) => !s.startsWith('./') && !s.startsWith('node:'));
    expect(outside.filter((s) => !RUNTIME_DEPS.includes(s) && !NODE_BUILTINS.has(s))).toEqual([]);
    const sdk = (await import(
      pathToFileURL(join(dist, 'index.js')).href
    )) as typeof import('../packages/client/src/index.ts');
    expect(sdk.REVIEW_STATUSES).toEqual(['queued', 'running', 'completed', 'failed', 'cancelled']);
    expect(
      ['completed', 'failed', 'cancelled', 'running'].map((s) => sdk.isRestingReviewStatus(s as never)),
    ).toEqual([true, true, true, false]);
    expect(new sdk.FleetHttpClient({ baseUrl: 'http://127.0.0.1:1' }).reviews).toBeInstanceOf(sdk.ReviewsApi);
  });

  it('typecheck code of a consumer that has only the dist and its runtime dependencies: both clients, turn statuses, the reviews API', () => {
    const modules = join(consumer, 'node_modules');
    const sdk = join(modules, '@agent-fleet/client');
    mkdirSync(sdk, { recursive: true });
    cpSync(join(CLIENT, 'package.json'), join(sdk, 'package.json'));
    cpSync(dist, join(sdk, 'dist'), { recursive: true });
    for (const dep of RUNTIME_DEPS) {
      mkdirSync(dirname(join(modules, dep)), { recursive: true });
      symlinkSync(realpathSync(join(CLIENT, 'node_modules', dep)), join(modules, dep));
    }
    mkdirSync(join(modules, '@types'));
    symlinkSync(realpathSync(join(root, 'node_modules/@types/node')), join(modules, '@types/node'));
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', type: 'module', private: true }),
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['index.ts'],
      }),
    );
    writeFileSync(join(consumer, 'index.ts'), CONSUMER);
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', consumer], {
      cwd: consumer,
      encoding: 'utf8',
    });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);
  });
});
