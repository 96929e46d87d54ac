import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_RECOVERY_ENV, waitFor } from './support/fleet.ts';
import { childProcesses, freshFleetDir, runFleetCli, stopFleetCli } from './support/fleet-cli.ts';

type Role = 'redis-server' | 'postgres' | 'llm-sim' | 'gateway' | 'worker';

/** Which of the fleet's processes a command line is (postgres: the postmaster, not its children). */
function roleOf(cmdline: string): Role | undefined {
  if (cmdline.startsWith('redis-server')) return 'redis-server';
  if (/\/bin\/postgres -D /.test(cmdline)) return 'postgres';
  if (cmdline.includes('packages/llm-sim/src/main.ts')) return 'llm-sim';
  if (cmdline.includes('packages/gateway/src/main.ts')) return 'gateway';
  if (cmdline.includes('packages/worker/src/main.ts')) return 'worker';
  return undefined;
}

/** The child processes of `parent` (from procfs, so it holds whatever `fleet start` does inside). */
function childrenOf(parent: number): { pid: number; role: Role | undefined }[] {
  return childProcesses(parent).map(({ pid, cmdline }) => ({ pid, role: roleOf(cmdline) }));
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

/**
 * `fleet start` is run as a child process with a fresh .fleet directory and free ports; each of the
 * processes it started is SIGKILLed in turn, and must come back (a new pid, a line saying so, the
 * same port) with the fleet answering messages again. Ctrl-C (SIGINT to its process group) then
 * stops everything with no restart.
 */
describe('fleet start supervises every process it started', () => {
  const fleetDir = freshFleetDir('supervision');
  let fleet: ChildProcess;
  let output = () => '';
  let gatewayUrl = '';
  let token = '';
  const seen = new Set<number>();

  const pidOf = (role: Role) => {
    const found = childrenOf(fleet.pid!).filter((c) => c.role === role);
    for (const c of found) seen.add(c.pid);
    return found[0]?.pid;
  };
  const auth = () => ({ authorization: `Bearer ${token}` });

  /** POSTs a message, retrying while the gateway or its Redis is still coming back; returns the turnId. */
  async function postMessage(text: string): Promise<string> {
    let last = '';
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${gatewayUrl}/v1/users/alice/messages`, {
          method: 'POST',
          headers: { ...auth(), 'content-type': 'application/json' },
          body: JSON.stringify({ text }),
        });
        const body = await res.text();
        if (res.status === 202) return (JSON.parse(body) as { turnId: string }).turnId;
        last = `${res.status} ${body}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(200);
    }
    throw new Error(`the message was not accepted: ${last}`);
  }

  async function turnStatus(turnId: string): Promise<string> {
    try {
      const res = await fetch(`${gatewayUrl}/v1/turns/${turnId}`, { headers: auth() });
      return res.status === 200 ? ((await res.json()) as { status: string }).status : `http ${res.status}`;
    } catch (err) {
      return (err as Error).message;
    }
  }

  async function completes(turnId: string): Promise<void> {
    let status = '';
    await waitFor(
      async () => {
        status = await turnStatus(turnId);
        return status === 'completed';
      },
      {
        timeoutMs: 40_000,
        intervalMs: 100,
        describe: () => `turn ${turnId} is ${status}`,
      },
    );
  }

  /** SIGKILLs the process of `role` and waits for a new one, then for the line saying it is back. */
  async function killAndAwaitReturn(role: Role, service: string): Promise<{ pid: number; line: string }> {
    const victim = pidOf(role);
    expect(victim, `a ${role} process runs`).toBeDefined();
    process.kill(victim!, 'SIGKILL');
    let pid: number | undefined;
    await waitFor(
      async () => {
        pid = pidOf(role);
        return pid !== undefined && pid !== victim;
      },
      {
        timeoutMs: 30_000,
        intervalMs: 50,
        describe: () => `${role} (was pid ${victim}) is not back\n${output().slice(-2000)}`,
      },
    );
    const exited = new RegExp(
      `${service} \\(pid ${victim}\\) exited with signal SIGKILL after .*; restart attempt 1 in \\d+ ms`,
    );
    const back = new RegExp(`${service} is back: pid ${pid} ready in [^\\n]*`);
    await waitFor(async () => back.test(output()), {
      timeoutMs: 30_000,
      describe: () => `no line says ${service} is back\n${output().slice(-2000)}`,
    });
    expect(output()).toMatch(exited);
    return { pid: pid!, line: output().match(back)![0] };
  }

  beforeAll(async () => {
    const cli = runFleetCli(['--workers', '1'], {
      FLEET_DIR: fleetDir,
      HOST: '127.0.0.1',
      PORT: '0',
      ...FAST_RECOVERY_ENV,
    });
    ({ child: fleet, output } = cli);
    await cli.untilUp(100_000);
    gatewayUrl = `http://127.0.0.1:${output().match(/gateway {5}http:\/\/localhost:(\d+)/)![1]}`;
    token = output().match(/export TOKEN=(\S+)/)![1]!;
  }, 120_000);

  afterAll(async () => {
    await stopFleetCli(fleet, 60_000);
    for (const pid of seen) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(fleetDir, { recursive: true, force: true });
  }, 90_000);

  it('prints the Bull Board sign-in URL, and every process serves a first message', async () => {
    expect(output()).toContain(`dashboard   http://localhost:${new URL(gatewayUrl).port}/admin/queues`);
    expect(output()).toMatch(/sign in at http:\/\/localhost:\d+\/admin\/login with the admin key/);
    expect(output()).not.toMatch(/browser extension/);
    expect(output()).toMatch(/Redis {7}redis:\/\/127\.0\.0\.1:\d+ {3}\(AOF, appendfsync always/);
    for (const role of ['redis-server', 'postgres', 'llm-sim', 'gateway', 'worker'] as const) {
      expect(pidOf(role), role).toBeDefined();
    }
    await completes(await postMessage('What is the retention period for KYC records?'));
  });

  it('brings redis-server back on its port with its AOF: a turn accepted just before the SIGKILL is still known', async () => {
    const redisUrl = output().match(/Redis {7}(redis:\/\/\S+)/)![1]!;
    const accepted = await postMessage('Accepted just before Redis dies');
    const { line } = await killAndAwaitReturn('redis-server', 'redis-server');
    expect(line).toContain(`at ${redisUrl}`);
    await completes(accepted);
    await completes(await postMessage('After Redis came back'));
  });

  it('brings PostgreSQL back on its port after a SIGKILL (its postmaster.pid left behind)', async () => {
    const port = output().match(/Postgres {4}postgres:\/\/\S+@127\.0\.0\.1:(\d+)\//)![1]!;
    const { line } = await killAndAwaitReturn('postgres', 'postgres');
    expect(line).toContain(`@127.0.0.1:${port}/`);
    await completes(await postMessage('After Postgres came back'));
  });

  it('brings the LLM simulator back on its port', async () => {
    const llmUrl = output().match(/LLM {9}(http:\/\/\S+)/)![1]!;
    const { line } = await killAndAwaitReturn('llm-sim', 'llm-sim');
    expect(line).toContain(`at ${llmUrl}`);
    await completes(await postMessage('After the simulator came back'));
  });

  it('brings the gateway back on its port', async () => {
    const { line } = await killAndAwaitReturn('gateway', 'gateway');
    expect(line).toContain(`at ${gatewayUrl}`);
    await completes(await postMessage('After the gateway came back'));
  });

  it('brings a worker back', async () => {
    await killAndAwaitReturn('worker', 'worker-0');
    await completes(await postMessage('After the worker came back'));
  });

  it('stops everything on Ctrl-C, workers first, with no restart', async () => {
    const running = childrenOf(fleet.pid!).map((c) => c.pid);
    expect(running.length).toBeGreaterThanOrEqual(5);
    const mark = output().length;
    process.kill(-fleet.pid!, 'SIGINT');
    await waitFor(async () => fleet.exitCode !== null, {
      timeoutMs: 60_000,
      describe: () => output().slice(mark),
    });
    const stopping = output().slice(mark);
    expect(fleet.exitCode, stopping).toBe(0);
    expect(stopping).not.toMatch(/restart attempt|is back/);
    const order = [...stopping.matchAll(/^ {2}(\S+) stopped \(pid \d+, exit code 0\)$/gm)].map((m) => m[1]);
    expect(order).toEqual(['worker-0', 'gateway', 'llm-sim', 'postgres', 'redis-server']);
    expect(stopping).toContain('stopped.');
    for (const pid of running) expect(isAlive(pid), `pid ${pid}`).toBe(false);
  });
});
