import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';

const here = dirname(fileURLToPath(import.meta.url));
const WORKSPACE = /^@agent-fleet\//;

/**
 * Where the declarations of the bundled workspace packages come from. rollup-plugin-dts inlines only
 * modules that resolve outside node_modules: an import found through the workspace's node_modules
 * symlink counts as an external library and is left as an import consumers cannot resolve (tsup's
 * own `dts.resolve` needs a `types` entry, which source-only packages do not have). Mapped to their
 * sources with `paths`, they are inlined, so the .d.ts files import only bullmq and ioredis.
 */
const WORKSPACE_SOURCES = {
  '@agent-fleet/core': ['../core/src/index.ts'],
  '@agent-fleet/turns': ['../turns/src/index.ts'],
  '@agent-fleet/review/api': ['../review/src/api.ts'],
};

/**
 * Workspace packages are bundled in (consumers install only bullmq, ioredis and zod). Their files
 * are marked free of side effects so only what the client uses is kept: core's logger (pino) and
 * tokenizer, and the review engine behind the review vocabulary, never reach the bundle.
 */
const workspaceSideEffectFree: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'workspace-side-effect-free',
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'resolving') return undefined;
      const fromWorkspace =
        WORKSPACE.test(args.path) || /\/packages\/(core|turns|review)\/src\//.test(args.importer);
      if (!fromWorkspace || args.kind === 'entry-point') return undefined;
      const r = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: 'resolving',
      });
      if (r.errors.length > 0 || r.external || !/\/packages\/(core|turns|review)\/src\//.test(r.path))
        return undefined;
      return { path: r.path, sideEffects: false };
    });
  },
};

export default defineConfig((cli) => ({
  entry: { index: 'src/index.ts', http: 'src/http.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: cli.dts === false ? false : { compilerOptions: { paths: WORKSPACE_SOURCES } },
  clean: true,
  sourcemap: true,
  splitting: true,
  noExternal: [WORKSPACE],
  external: ['bullmq', 'ioredis', 'zod'],
  esbuildPlugins: [workspaceSideEffectFree],
  // The turn protocol's Lua scripts are read next to the bundle (`new URL('./lua/x.lua', import.meta.url)`).
  async onSuccess() {
    const out = resolve(here, cli.outDir ?? 'dist');
    mkdirSync(join(out, 'lua'), { recursive: true });
    cpSync(join(here, '../turns/src/lua'), join(out, 'lua'), { recursive: true });
  },
}));
