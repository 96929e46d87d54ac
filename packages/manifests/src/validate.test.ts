import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { syncGenerated } from './generate.ts';
import { clone, type K8sObject } from './objects.ts';
import { K8S_DIR, type Overlay, overlayDirs, readOverlay } from './overlay.ts';
import { hasKubectl, type Renderer } from './render.ts';
import { checkObjects, checkOverlay } from './validate.ts';

// biome-ignore lint/suspicious/noExplicitAny: the tests edit fields deep inside parsed manifests
type Editable = Record<string, any>;

const renderers: Renderer[] = hasKubectl() ? ['builtin', 'kubectl'] : ['builtin'];

describe('the Kubernetes overlays', () => {
  it('has generated files that are what the code makes of each fleet.env', () => {
    for (const dir of overlayDirs()) expect(syncGenerated(readOverlay(dir), true), dir).toBeUndefined();
  });

  for (const renderer of renderers) {
    it(`renders every overlay (${renderer}) to objects valid against the schemas and the fleet's rules`, async () => {
      const names: string[] = [];
      for (const dir of overlayDirs()) {
        const report = await checkOverlay(dir, renderer);
        expect(report.problems, dir).toEqual([]);
        names.push(report.overlay.name);
        expect(report.objects.length).toBeGreaterThan(10);
      }
      expect(names).toEqual(['dev', 'prod']);
    });
  }

  it.each([
    ['PARTITIONS=0', 'PARTITIONS'],
    [
      'OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4317\nOTEL_EXPORTER_OTLP_PROTOCOL=grpc',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
    ],
  ])('refuses an overlay whose fleet.env the fleet would refuse (%s), naming the variable', (line, name) => {
    const dir = mkdtempSync(join(tmpdir(), 'overlay-'));
    cpSync(join(K8S_DIR, 'overlays/dev'), dir, { recursive: true });
    writeFileSync(join(dir, 'fleet.env'), `${readFileSync(join(dir, 'fleet.env'), 'utf8')}${line}\n`);
    expect(() => readOverlay(dir)).toThrow(new RegExp(`fleet\\.env: invalid configuration[\\s\\S]*${name}`));
  });
});

describe("the fleet's rules catch", () => {
  let prod: { overlay: Overlay; objects: K8sObject[] };
  beforeAll(async () => {
    const report = await checkOverlay(join(K8S_DIR, 'overlays/prod'), 'builtin');
    prod = { overlay: report.overlay, objects: report.objects };
  });

  /** The prod overlay's problems after `change` edited one object of it. */
  async function problemsAfter(kind: string, name: string, change: (o: Editable) => void) {
    const objects = clone(prod.objects);
    const target = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!target) throw new Error(`no ${kind} ${name}`);
    change(target);
    return (await checkObjects(objects, prod.overlay)).map((p) => `${p.object}: ${p.message}`);
  }
  const workerTrigger = (o: Editable) => o.spec.triggers[0].metadata;
  const container = (o: Editable) => o.spec.template.spec.containers[0];

  it('a worker ScaledObject whose query counts another metric, or misses a queue', async () => {
    expect(
      await problemsAfter('ScaledObject', 'fleet-worker', (o) => {
        workerTrigger(o).query = 'sum(bullmq_waiting_jobs{namespace="agent-fleet",queue=~"agent\\\\.p0"})';
      }),
    ).toEqual(
      expect.arrayContaining([
        'ScaledObject agent-fleet/fleet-worker: its query must count fleet_queue_backlog, it counts bullmq_waiting_jobs',
        expect.stringMatching(
          /its query counts queues agent\.p0; the work queues are agent\.p0, agent\.p1, .*agent\.intake/,
        ),
      ]),
    );
    expect(
      await problemsAfter('ScaledObject', 'fleet-worker', (o) => {
        workerTrigger(o).query = workerTrigger(o).query.replace('|review\\\\.docs', '');
      }),
    ).toEqual([
      expect.stringMatching(
        /counts queues agent\.p0, .*review\.runs; the work queues are .*review\.runs, review\.docs$/,
      ),
    ]);
  });

  it("a ScaledObject that does not say the overlay's policy, or scales vLLM on another metric", async () => {
    expect(await problemsAfter('ScaledObject', 'fleet-worker', (o) => (o.spec.maxReplicaCount = 99))).toEqual(
      [expect.stringMatching(/does not say the overlay's AUTOSCALE_\* policy/)],
    );
    expect(
      await problemsAfter('ScaledObject', 'vllm', (o) => {
        o.spec.triggers[0].metadata.query = 'avg(vllm:gpu_cache_usage_perc)';
      }),
    ).toEqual([
      'ScaledObject agent-fleet/vllm: its query must count vllm:num_requests_waiting, it counts vllm:gpu_cache_usage_perc',
    ]);
  });

  it('a Deployment without limits, or without a probe', async () => {
    expect(
      await problemsAfter('Deployment', 'fleet-worker', (o) => delete container(o).resources.limits),
    ).toEqual([
      'Deployment agent-fleet/fleet-worker: container worker has no limits.cpu',
      'Deployment agent-fleet/fleet-worker: container worker has no limits.memory',
    ]);
    expect(
      await problemsAfter('Deployment', 'fleet-gateway', (o) => delete container(o).livenessProbe),
    ).toEqual(['Deployment agent-fleet/fleet-gateway: container gateway has no livenessProbe']);
    expect(await problemsAfter('StatefulSet', 'qdrant', (o) => delete container(o).readinessProbe)).toEqual([
      'StatefulSet agent-fleet/qdrant: container qdrant has no readinessProbe',
    ]);
  });

  it('a gateway probe that counts the LLM, a grace period under the longest turn, an untagged image', async () => {
    expect(
      await problemsAfter(
        'Deployment',
        'fleet-gateway',
        (o) => (container(o).readinessProbe.httpGet.path = '/readyz'),
      ),
    ).toEqual(['Deployment agent-fleet/fleet-gateway: the readiness probe must be /readyz?exclude=llm']);
    expect(
      await problemsAfter(
        'Deployment',
        'fleet-worker',
        (o) => (o.spec.template.spec.terminationGracePeriodSeconds = 30),
      ),
    ).toEqual([
      'Deployment agent-fleet/fleet-worker: terminationGracePeriodSeconds 30 must exceed SHUTDOWN_GRACE_MS 360000 ms',
    ]);
    expect(
      await problemsAfter(
        'Deployment',
        'fleet-worker',
        (o) => (container(o).image = 'agent-fleet/worker:latest'),
      ),
    ).toEqual([
      'Deployment agent-fleet/fleet-worker: container worker image "agent-fleet/worker:latest" has no fixed tag',
    ]);
  });

  it('schema errors, and kinds without a schema', async () => {
    expect(await problemsAfter('Deployment', 'fleet-worker', (o) => (o.spec.replicas = 'two'))).toEqual([
      'Deployment agent-fleet/fleet-worker: spec/replicas must be integer',
    ]);
    expect(
      await problemsAfter('ScaledObject', 'fleet-worker', (o) => (o.spec.minReplicaCount = '2')),
    ).toEqual(
      expect.arrayContaining(['ScaledObject agent-fleet/fleet-worker: spec/minReplicaCount must be integer']),
    );
    expect(await problemsAfter('Service', 'qdrant', (o) => (o.apiVersion = 'example.com/v1'))).toEqual([
      'Service agent-fleet/qdrant: no schema for example.com/v1 Service',
    ]);
  });
});
