import { workQueues } from '@agent-fleet/core';
import {
  backlogQuery,
  type ScalingPolicy,
  scaledObjectSpec,
  scalingPolicyFromConfig,
} from '@agent-fleet/scaling';
import type { K8sObject } from './objects.ts';
import type { Overlay } from './overlay.ts';

/** Where KEDA reads metrics: the Prometheus Operator's service in the `monitoring` namespace. */
export const PROMETHEUS_URL = 'http://prometheus-operated.monitoring.svc:9090';
export const WORKER_DEPLOYMENT = 'fleet-worker';
export const VLLM_STATEFULSET = 'vllm';
/** The vLLM metric its ScaledObject scales on: requests queued in a server's scheduler. */
export const VLLM_WAITING_METRIC = 'vllm:num_requests_waiting';
/**
 * Requests waiting per vLLM server before another is added: a server with a full batch queues the
 * rest, and a sustained queue of 8 means each new request waits about one batch.
 */
export const VLLM_WAITING_PER_SERVER = 8;

const VLLM_URL = new RegExp(`^https?://${VLLM_STATEFULSET}-\\d+\\.${VLLM_STATEFULSET}[.:/]`);

/** The worker's backlog query of an overlay: every work queue of its catalogue, in its namespace. */
export function workerBacklogQuery(o: Overlay): string {
  const queues = workQueues(o.config.FLEET_NAMESPACE, o.config.PARTITIONS).map((q) => q.name);
  return backlogQuery(queues, o.namespace);
}

/** The vLLM servers LLM_BASE_URLS lists by their StatefulSet names: the most the StatefulSet may run. */
export function vllmServerCount(o: Overlay): number {
  return o.config.LLM_BASE_URLS.filter((u) => VLLM_URL.test(u)).length;
}

export function vllmBacklogQuery(o: Overlay): string {
  return `sum(${VLLM_WAITING_METRIC}{namespace="${o.namespace}"})`;
}

/**
 * vLLM's policy: at least one server (a GPU server takes minutes to load a model, so it never goes
 * to zero), at most as many as LLM_BASE_URLS names, one more at a time and one fewer every 5
 * minutes after a 10-minute window, so a short lull does not drop a warm prefix cache.
 */
export function vllmPolicy(servers: number): ScalingPolicy {
  return {
    minReplicas: 1,
    maxReplicas: servers,
    targetBacklog: VLLM_WAITING_PER_SERVER,
    activationBacklog: 0,
    pollingSeconds: 15,
    cooldownSeconds: 300,
    scaleUp: {
      stabilizationWindowSeconds: 60,
      selectPolicy: 'Max',
      policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: 600,
      selectPolicy: 'Max',
      policies: [{ type: 'Pods', value: 1, periodSeconds: 300 }],
    },
  };
}

const scaledObject = (name: string, spec: ReturnType<typeof scaledObjectSpec>): K8sObject => ({
  apiVersion: 'keda.sh/v1alpha1',
  kind: 'ScaledObject',
  metadata: { name, labels: { 'app.kubernetes.io/part-of': 'agent-fleet' } },
  spec,
});

/**
 * The ScaledObjects an overlay's settings ask for: the workers' on the backlog unless WORKERS fixes
 * their count, and vLLM's on its waiting requests when LLM_BASE_URLS names vLLM servers.
 */
export function scaledObjects(o: Overlay): K8sObject[] {
  const objects: K8sObject[] = [];
  if (o.config.WORKERS === undefined) {
    const spec = scaledObjectSpec(
      scalingPolicyFromConfig(o.config),
      { kind: 'Deployment', name: WORKER_DEPLOYMENT },
      { serverAddress: PROMETHEUS_URL, query: workerBacklogQuery(o) },
    );
    objects.push(scaledObject(WORKER_DEPLOYMENT, spec));
  }
  const servers = vllmServerCount(o);
  if (servers > 0) {
    const spec = scaledObjectSpec(
      vllmPolicy(servers),
      { kind: 'StatefulSet', name: VLLM_STATEFULSET },
      { serverAddress: PROMETHEUS_URL, query: vllmBacklogQuery(o) },
    );
    objects.push(scaledObject(VLLM_STATEFULSET, spec));
  }
  return objects;
}
