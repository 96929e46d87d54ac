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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClientDist } from './support/sdk-build.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const CLIENT = join(root, 'packages/client');
/** What the SDK declares it needs at run time; a consumer has these and nothing of the workspace. */
const RUNTIME_DEPS = ['bullmq', 'ioredis', 'zod'];

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
  TURN_STATUSES,
  type FinalStatus,
  type TurnRecord,
  type TurnStatus,
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

  it('typecheck code of a consumer that has only the dist and bullmq, ioredis and zod', () => {
    const modules = join(consumer, 'node_modules');
    const sdk = join(modules, '@agent-fleet/client');
    mkdirSync(sdk, { recursive: true });
    cpSync(join(CLIENT, 'package.json'), join(sdk, 'package.json'));
    cpSync(dist, join(sdk, 'dist'), { recursive: true });
    for (const dep of RUNTIME_DEPS)
      symlinkSync(realpathSync(join(CLIENT, 'node_modules', dep)), join(modules, dep));
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
