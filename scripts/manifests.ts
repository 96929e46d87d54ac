/**
 * pnpm manifests: writes each Kubernetes overlay's generated.yaml (its ScaledObjects and monitoring,
 * made from its fleet.env by the fleet's own scaling policy and queue catalogue) and
 * infra/observability (the Grafana dashboard and the alert rules, from the same alert definitions),
 * then renders every overlay and validates every object against the Kubernetes, KEDA and
 * Prometheus Operator schemas and the fleet's rules. `--check` writes nothing and exits 1 when a
 * generated file is out of date or an overlay has a problem, so CI catches either.
 */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkOverlay,
  overlayDirs,
  type Renderer,
  readOverlay,
  syncGenerated,
  syncObservability,
} from '@agent-fleet/manifests';
import { Command, Option } from 'commander';

const root = fileURLToPath(new URL('../', import.meta.url));
const opts = new Command('manifests')
  .description('generate and validate the Kubernetes overlays (infra/k8s)')
  .option('--check', 'write nothing; exit 1 when a generated file is stale or an overlay is invalid')
  .addOption(
    new Option('--renderer <how>', 'kubectl kustomize, or the built-in renderer').choices([
      'kubectl',
      'builtin',
    ]),
  )
  .parse()
  .opts<{ check?: boolean; renderer?: Renderer }>();

let failed = false;
for (const stale of syncObservability(opts.check === true)) {
  if (opts.check) {
    failed = true;
    process.stderr.write(`${relative(root, stale)}: out of date; run \`pnpm manifests\` and commit it\n`);
  } else process.stdout.write(`wrote ${relative(root, stale)}\n`);
}
for (const dir of overlayDirs()) {
  const name = relative(root, dir);
  try {
    const stale = syncGenerated(readOverlay(dir), opts.check === true);
    if (stale && opts.check) {
      failed = true;
      process.stderr.write(`${relative(root, stale)}: out of date; run \`pnpm manifests\` and commit it\n`);
    } else if (stale) process.stdout.write(`wrote ${relative(root, stale)}\n`);
    const report = await checkOverlay(dir, opts.renderer);
    const summary = `${name}: ${report.objects.length} objects (${report.renderer === 'kubectl' ? 'kubectl kustomize' : 'built-in renderer'})`;
    if (report.problems.length === 0) {
      process.stdout.write(`${summary}, all valid\n`);
      continue;
    }
    failed = true;
    process.stderr.write(`${summary}, ${report.problems.length} problems:\n`);
    for (const p of report.problems) process.stderr.write(`  ${p.object}: ${p.message}\n`);
  } catch (err) {
    failed = true;
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
  }
}
process.exit(failed ? 1 : 0);
