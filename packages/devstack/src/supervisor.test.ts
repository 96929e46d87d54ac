import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { describeExit, exitStatus, isAlive, stopChild } from './process-tools.ts';
import { restartDelayMs } from './restart-backoff.ts';
import {
  type ExitEvent,
  type ProcessRun,
  type ReadyEvent,
  type RestartEvent,
  type SupervisedService,
  Supervisor,
} from './supervisor.ts';

/** Node programs the tests run as the supervised processes (each prints "ready" when it is). */
const PROGRAMS = {
  /** Runs until told to stop; takes `stopMs` to exit after SIGTERM. */
  steady: (stopMs = 0) =>
    `process.on('SIGTERM', () => setTimeout(() => process.exit(0), ${stopMs})); setInterval(() => {}, 1000); console.log('ready');`,
  /** Gets ready, then crashes with exit code 3 after `afterMs`. */
  crashing: (afterMs: number) => `console.log('ready'); setTimeout(() => process.exit(3), ${afterMs});`,
  /** Dies before it is ready. */
  broken: () => `process.exit(5);`,
  /** Takes `ms` to get ready. */
  slow: (ms: number) => `setTimeout(() => console.log('ready'), ${ms}); setInterval(() => {}, 1000);`,
};

const children: ChildProcess[] = [];
const supervisors: Supervisor[] = [];

/** Starts `node -e program` and resolves once it prints "ready"; rejects if it exits first. */
function runProgram(program: string): Promise<ProcessRun> {
  const child = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const exited = exitStatus(child);
  const run: ProcessRun = { pid: child.pid!, exited, stop: () => stopChild(child, 'SIGTERM', 5_000) };
  return new Promise((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('ready')) resolve(run);
    });
    void exited.then((status) => reject(new Error(`exited before it was ready (${describeExit(status)})`)));
  });
}

/** A service whose n-th start (0 = the first) runs `programFor(n)`; counts its starts. */
function service(name: string, programFor: (n: number) => string, group?: string) {
  const svc = {
    name,
    ...(group ? { group } : {}),
    starts: 0,
    startedAt: [] as number[],
    start: () => {
      svc.startedAt.push(Date.now());
      return runProgram(programFor(svc.starts++));
    },
  };
  return svc satisfies SupervisedService;
}

function supervisor(backoff: ConstructorParameters<typeof Supervisor>[0] = {}): {
  sup: Supervisor;
  events: { ready: ReadyEvent[]; exit: ExitEvent[]; restarting: RestartEvent[] };
} {
  const sup = new Supervisor(backoff);
  supervisors.push(sup);
  const events = { ready: [] as ReadyEvent[], exit: [] as ExitEvent[], restarting: [] as RestartEvent[] };
  sup.on('ready', (e) => events.ready.push(e));
  sup.on('exit', (e) => events.exit.push(e));
  sup.on('restarting', (e) => events.restarting.push(e));
  return { sup, events };
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

afterEach(async () => {
  // A supervisor that cannot stop fails its test; its children are killed here all the same.
  await Promise.race([Promise.all(supervisors.splice(0).map((s) => s.stop())), sleep(15_000)]);
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('restartDelayMs', () => {
  it('doubles from the initial delay up to the cap', () => {
    const policy = { initialDelayMs: 250, factor: 2, maxDelayMs: 30_000, stableAfterMs: 60_000 };
    expect([1, 2, 3, 4, 8, 9, 50].map((n) => restartDelayMs(policy, n))).toEqual([
      250, 500, 1000, 2000, 30_000, 30_000, 30_000,
    ]);
  });
});

describe('Supervisor', () => {
  it('restarts a killed process with a new pid, reports the exit and counts the restart', async () => {
    const { sup, events } = supervisor({ backoff: { initialDelayMs: 20 } });
    const svc = service('steady', () => PROGRAMS.steady());
    const first = await sup.add(svc);
    expect(sup.pid('steady')).toBe(first.pid);
    expect(sup.state('steady')).toBe('running');

    const back = sup.nextReady('steady', 10_000);
    expect(sup.kill('steady')).toBe(first.pid);
    const ready = await back;
    expect(ready.pid).not.toBe(first.pid);
    expect(ready.restarts).toBe(1);
    expect(sup.pid('steady')).toBe(ready.pid);
    expect(sup.restarts('steady')).toBe(1);
    expect(await isAlive(first.pid)).toBe(false);
    expect(events.exit).toEqual([
      expect.objectContaining({
        service: 'steady',
        pid: first.pid,
        planned: false,
        status: { code: null, signal: 'SIGKILL' },
      }),
    ]);
    expect(events.restarting).toEqual([
      expect.objectContaining({
        attempt: 1,
        delayMs: 20,
        cause: expect.objectContaining({ kind: 'exited', pid: first.pid }),
      }),
    ]);
  });

  it('backs off exponentially up to the cap while a process keeps crashing, and resets after a stable run', async () => {
    const { sup, events } = supervisor({
      backoff: { initialDelayMs: 40, factor: 2, maxDelayMs: 160, stableAfterMs: 1_500 },
    });
    // Starts 0-4 crash at once; start 5 stays up past the stable period, then crashes; 6 stays.
    const svc = service('flaky', (n) =>
      n < 5 ? PROGRAMS.crashing(0) : n === 5 ? PROGRAMS.crashing(1_800) : PROGRAMS.steady(),
    );
    const exitedAt: number[] = [];
    sup.on('exit', () => exitedAt.push(Date.now()));
    await sup.add(svc);
    await until(() => svc.starts === 7 && sup.state('flaky') === 'running', 20_000);

    expect(events.restarting.map((e) => [e.attempt, e.delayMs])).toEqual([
      [1, 40],
      [2, 80],
      [3, 160],
      [4, 160],
      [5, 160],
      [1, 40],
    ]);
    for (const e of events.restarting) {
      expect(e.cause).toEqual(expect.objectContaining({ kind: 'exited', status: { code: 3, signal: null } }));
    }
    // Each restart began no sooner than its delay after the exit it answers.
    events.restarting.forEach((e, i) => {
      expect(svc.startedAt[i + 1]! - exitedAt[i]!).toBeGreaterThanOrEqual(e.delayMs - 2);
    });
    expect(events.ready.map((e) => e.restarts)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(sup.restarts('flaky')).toBe(6);
  });

  it('retries a restart that fails before it is ready, with growing delays, until one comes up', async () => {
    const { sup, events } = supervisor({ backoff: { initialDelayMs: 20, factor: 2, maxDelayMs: 1_000 } });
    const svc = service('picky', (n) =>
      n === 0 ? PROGRAMS.steady() : n < 4 ? PROGRAMS.broken() : PROGRAMS.steady(),
    );
    await sup.add(svc);
    const back = sup.nextReady('picky', 10_000);
    sup.kill('picky');
    await back;
    expect(events.restarting.map((e) => [e.attempt, e.delayMs, e.cause.kind])).toEqual([
      [1, 20, 'exited'],
      [2, 40, 'start-failed'],
      [3, 80, 'start-failed'],
      [4, 160, 'start-failed'],
    ]);
    const failed = events.restarting[1]!.cause;
    expect(failed.kind === 'start-failed' && failed.error.message).toMatch(/exit code 5/);
    expect(sup.restarts('picky')).toBe(1);
  });

  it('drops a restart waiting for its delay when stop() is called', async () => {
    const { sup, events } = supervisor({ backoff: { initialDelayMs: 30_000 } });
    const svc = service('waiting', () => PROGRAMS.steady());
    await sup.add(svc);
    sup.kill('waiting');
    await until(() => sup.state('waiting') === 'backoff');
    const began = Date.now();
    await sup.stop();
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(sup.state('waiting')).toBe('stopped');
    expect(svc.starts).toBe(1);
    expect(events.ready).toHaveLength(1);
  });

  it('stops a restart that was starting when stop() was called, and announces it no more', async () => {
    const { sup, events } = supervisor({ backoff: { initialDelayMs: 10 } });
    const svc = service('slow', (n) => (n === 0 ? PROGRAMS.steady() : PROGRAMS.slow(500)));
    await sup.add(svc);
    sup.kill('slow');
    await until(() => svc.starts === 2 && sup.state('slow') === 'starting');
    await sup.stop();
    expect(sup.state('slow')).toBe('stopped');
    expect(events.ready).toHaveLength(1);
    const restarted = events.exit.at(-1)!;
    expect(restarted.planned).toBe(true);
    expect(await isAlive(restarted.pid)).toBe(false);
  });

  it('stops groups in the reverse order they were added, a group at once, with no restart', async () => {
    const { sup, events } = supervisor({ backoff: { initialDelayMs: 10 } });
    await sup.add(service('db', () => PROGRAMS.steady(50)));
    await sup.add(service('api', () => PROGRAMS.steady(50)));
    await Promise.all([
      sup.add(service('worker-0', () => PROGRAMS.steady(300), 'workers')),
      sup.add(service('worker-1', () => PROGRAMS.steady(300), 'workers')),
    ]);
    expect(sup.list().map((s) => [s.name, s.group, s.state])).toEqual([
      ['db', 'db', 'running'],
      ['api', 'api', 'running'],
      ['worker-0', 'workers', 'running'],
      ['worker-1', 'workers', 'running'],
    ]);
    await sup.stop();
    const order = events.exit.map((e) => e.service);
    expect(new Set(order.slice(0, 2))).toEqual(new Set(['worker-0', 'worker-1']));
    expect(order.slice(2)).toEqual(['api', 'db']);
    expect(events.exit.every((e) => e.planned && e.status.code === 0)).toBe(true);
    expect(events.restarting).toEqual([]);
    expect(sup.list().every((s) => s.state === 'stopped' && s.pid === undefined)).toBe(true);
    await expect(sup.add(service('late', () => PROGRAMS.steady()))).rejects.toThrow(/stopping/);
  });

  it('leaves a service whose first start fails unsupervised, and refuses duplicate names', async () => {
    const { sup, events } = supervisor();
    await expect(sup.add(service('broken', () => PROGRAMS.broken()))).rejects.toThrow(/exit code 5/);
    expect(sup.list()).toEqual([]);
    expect(events.restarting).toEqual([]);
    await sup.add(service('one', () => PROGRAMS.steady()));
    await expect(sup.add(service('one', () => PROGRAMS.steady()))).rejects.toThrow(/already supervised/);
    expect(() => sup.pid('nobody')).toThrow(/no service named nobody/);
  });

  it('removes one service for good: a planned stop with its grace, no restart, and the name free again', async () => {
    const { sup, events } = supervisor({ backoff: { initialDelayMs: 10 } });
    await sup.add(service('api', () => PROGRAMS.steady()));
    const worker = service('worker-0', () => PROGRAMS.steady(200), 'workers');
    const first = await sup.add(worker);
    const began = Date.now();
    await sup.remove('worker-0');
    expect(Date.now() - began).toBeGreaterThanOrEqual(150);
    expect(await isAlive(first.pid)).toBe(false);
    expect(events.exit).toMatchObject([{ service: 'worker-0', pid: first.pid, planned: true }]);
    expect(sup.list().map((s) => s.name)).toEqual(['api']);
    await sleep(50);
    expect(events.restarting).toEqual([]);
    expect(worker.starts).toBe(1);
    const again = await sup.add(worker);
    expect(again.pid).not.toBe(first.pid);
    expect(sup.state('worker-0')).toBe('running');
    expect(sup.state('api')).toBe('running');
  });
});
