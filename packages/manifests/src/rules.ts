import { isDeepStrictEqual } from 'node:util';
import { BACKLOG_METRIC, workQueues } from '@agent-fleet/core';
import { scaledObjectSpec, scalingPolicyFromConfig } from '@agent-fleet/scaling';
import { describeObject, type K8sObject } from './objects.ts';
import type { Overlay } from './overlay.ts';
import { matcherValues, metricsOf } from './promql.ts';
import {
  VLLM_STATEFULSET,
  VLLM_WAITING_METRIC,
  vllmServerCount,
  WORKER_DEPLOYMENT,
  workerBacklogQuery,
} from './scaling-objects.ts';

/** A rule an object of an overlay breaks. */
export interface Problem {
  object: string;
  message: string;
}

interface Container {
  name: string;
  image?: string;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  readinessProbe?: unknown;
  livenessProbe?: unknown;
}
interface PodTemplate {
  terminationGracePeriodSeconds?: number;
  containers: Container[];
}
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

function podSpec(o: K8sObject): PodTemplate | undefined {
  if (!WORKLOADS.has(o.kind)) return undefined;
  return (o.spec as { template: { spec: PodTemplate } }).template.spec;
}

const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

/** Every container of every workload states CPU and memory requests and limits. */
export function resourceRules(objects: K8sObject[]): Problem[] {
  return objects.flatMap((o) =>
    (podSpec(o)?.containers ?? []).flatMap((c) =>
      (['requests', 'limits'] as const).flatMap((kind) =>
        ['cpu', 'memory']
          .filter((r) => c.resources?.[kind]?.[r] === undefined)
          .map((r) => ({ object: describeObject(o), message: `container ${c.name} has no ${kind}.${r}` })),
      ),
    ),
  );
}

/** Every container of every workload has a readiness and a liveness probe. */
export function probeRules(objects: K8sObject[]): Problem[] {
  return objects.flatMap((o) =>
    (podSpec(o)?.containers ?? []).flatMap((c) =>
      (['readinessProbe', 'livenessProbe'] as const)
        .filter((p) => c[p] === undefined)
        .map((p) => ({ object: describeObject(o), message: `container ${c.name} has no ${p}` })),
    ),
  );
}

/** Every image names a tag other than `latest`, or a digest: a rollout must know what it runs. */
export function imageRules(objects: K8sObject[]): Problem[] {
  return objects.flatMap((o) =>
    (podSpec(o)?.containers ?? [])
      .filter(
        (c) => !/(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/.test(c.image ?? '') || /:latest$/.test(c.image ?? ''),
      )
      .map((c) => ({
        object: describeObject(o),
        message: `container ${c.name} image "${c.image}" has no fixed tag`,
      })),
  );
}

/**
 * The gateway's readiness probe leaves the LLM check out (`/readyz?exclude=llm`), so an LLM outage
 * does not empty its Service; the workers' grace period outlasts the longest turn.
 */
export function lifecycleRules(objects: K8sObject[], o: Overlay): Problem[] {
  const problems: Problem[] = [];
  const gateway = find(objects, 'Deployment', 'fleet-gateway');
  const probe = podSpec(gateway!)?.containers[0]?.readinessProbe as
    | { httpGet?: { path?: string } }
    | undefined;
  if (gateway && !/^\/readyz\?(.*&)?exclude=([a-z,]*,)?llm\b/.test(probe?.httpGet?.path ?? ''))
    problems.push({
      object: describeObject(gateway),
      message: 'the readiness probe must be /readyz?exclude=llm',
    });
  const worker = find(objects, 'Deployment', WORKER_DEPLOYMENT);
  if (!worker) return [...problems, { object: `Deployment ${WORKER_DEPLOYMENT}`, message: 'missing' }];
  const c = o.config;
  const longestTurnMs = c.AGENT_MAX_STEPS * c.LLM_MAX_ATTEMPTS * c.LLM_TIMEOUT_MS;
  const graceMs = (podSpec(worker)?.terminationGracePeriodSeconds ?? 30) * 1000;
  if (c.SHUTDOWN_GRACE_MS < longestTurnMs)
    problems.push({
      object: describeObject(worker),
      message: `SHUTDOWN_GRACE_MS ${c.SHUTDOWN_GRACE_MS} is under the longest turn (AGENT_MAX_STEPS x LLM_MAX_ATTEMPTS x LLM_TIMEOUT_MS = ${longestTurnMs})`,
    });
  if (graceMs <= c.SHUTDOWN_GRACE_MS)
    problems.push({
      object: describeObject(worker),
      message: `terminationGracePeriodSeconds ${graceMs / 1000} must exceed SHUTDOWN_GRACE_MS ${c.SHUTDOWN_GRACE_MS} ms`,
    });
  return problems;
}

/** What each ScaledObject must scale on: the fleet's backlog for the workers, waiting requests for vLLM. */
function expectedMetric(target: string): string | undefined {
  if (target === WORKER_DEPLOYMENT) return BACKLOG_METRIC;
  if (target === VLLM_STATEFULSET) return VLLM_WAITING_METRIC;
  return undefined;
}

interface ScaledObjectSpec {
  scaleTargetRef: { kind?: string; name: string };
  maxReplicaCount?: number;
  triggers: { type: string; metadata: { query?: string } }[];
}

/**
 * ScaledObjects scale what exists, on the right metric: the workers' query reads exactly
 * fleet_queue_backlog of every work queue of the overlay's catalogue in its namespace and says the
 * overlay's AUTOSCALE_* policy; vLLM's reads vllm:num_requests_waiting and may reach every server
 * LLM_BASE_URLS lists. WORKERS set means a fixed count: no worker ScaledObject and that many replicas.
 */
export function scalingRules(objects: K8sObject[], o: Overlay): Problem[] {
  const problems: Problem[] = [];
  const scaled = objects.filter((x) => x.kind === 'ScaledObject');
  for (const so of scaled) {
    const spec = so.spec as ScaledObjectSpec;
    const at = describeObject(so);
    const target = spec.scaleTargetRef;
    if (!find(objects, target.kind ?? 'Deployment', target.name))
      problems.push({
        object: at,
        message: `its target ${target.kind ?? 'Deployment'} ${target.name} is not in the overlay`,
      });
    const metric = expectedMetric(target.name);
    if (!metric) {
      problems.push({ object: at, message: `no known signal for ${target.name}` });
      continue;
    }
    for (const t of spec.triggers) {
      const read = t.type === 'prometheus' ? metricsOf(t.metadata.query ?? '') : [];
      if (read.length !== 1 || read[0] !== metric)
        problems.push({
          object: at,
          message: `its query must count ${metric}, it counts ${read.join(', ') || 'nothing'}`,
        });
    }
    if (target.name === WORKER_DEPLOYMENT) problems.push(...workerScaling(so, spec, o));
    if (target.name === VLLM_STATEFULSET && spec.maxReplicaCount !== vllmServerCount(o))
      problems.push({
        object: at,
        message: `maxReplicaCount must be the ${vllmServerCount(o)} servers LLM_BASE_URLS lists`,
      });
  }
  problems.push(...fixedOrScaled(objects, scaled, o));
  return problems;
}

function workerScaling(so: K8sObject, spec: ScaledObjectSpec, o: Overlay): Problem[] {
  const at = describeObject(so);
  const query = spec.triggers[0]?.metadata.query ?? '';
  const queues = workQueues(o.config.FLEET_NAMESPACE, o.config.PARTITIONS).map((q) => q.name);
  const counted = matcherValues(query, 'queue') ?? [];
  const problems: Problem[] = [];
  if (!isDeepStrictEqual([...counted].sort(), [...queues].sort()))
    problems.push({
      object: at,
      message: `its query counts queues ${counted.join(', ')}; the work queues are ${queues.join(', ')}`,
    });
  if (matcherValues(query, 'namespace')?.[0] !== o.namespace)
    problems.push({ object: at, message: `its query must select namespace="${o.namespace}"` });
  const expected = scaledObjectSpec(
    scalingPolicyFromConfig(o.config),
    { kind: 'Deployment', name: WORKER_DEPLOYMENT },
    { serverAddress: '', query: workerBacklogQuery(o) },
  );
  const { triggers: _t, ...policyPart } = expected;
  const { triggers: _a, ...actualPart } = spec as unknown as typeof expected;
  const trigger = (spec as unknown as typeof expected).triggers[0]?.metadata;
  if (
    !isDeepStrictEqual(policyPart, actualPart) ||
    trigger?.threshold !== expected.triggers[0]!.metadata.threshold
  )
    problems.push({
      object: at,
      message: "it does not say the overlay's AUTOSCALE_* policy: run `pnpm manifests`",
    });
  return problems;
}

function fixedOrScaled(objects: K8sObject[], scaled: K8sObject[], o: Overlay): Problem[] {
  const workerScaled = scaled.some(
    (s) => (s.spec as ScaledObjectSpec).scaleTargetRef.name === WORKER_DEPLOYMENT,
  );
  const worker = find(objects, 'Deployment', WORKER_DEPLOYMENT);
  const fixed = o.config.WORKERS;
  if (fixed === undefined && !workerScaled)
    return [
      {
        object: `Deployment ${WORKER_DEPLOYMENT}`,
        message: 'WORKERS is unset but no ScaledObject scales the workers',
      },
    ];
  if (fixed !== undefined && workerScaled)
    return [
      {
        object: `Deployment ${WORKER_DEPLOYMENT}`,
        message: `WORKERS=${fixed} fixes the count, yet a ScaledObject scales it`,
      },
    ];
  const replicas = (worker?.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  if (fixed !== undefined && replicas !== fixed)
    return [
      { object: `Deployment ${WORKER_DEPLOYMENT}`, message: `replicas ${replicas}, but WORKERS=${fixed}` },
    ];
  if (
    find(objects, 'StatefulSet', VLLM_STATEFULSET) &&
    !scaled.some((s) => (s.spec as ScaledObjectSpec).scaleTargetRef.name === VLLM_STATEFULSET)
  )
    return [
      {
        object: `StatefulSet ${VLLM_STATEFULSET}`,
        message: 'vLLM runs but LLM_BASE_URLS names no vLLM server to scale',
      },
    ];
  return [];
}
