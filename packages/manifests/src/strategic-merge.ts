type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/**
 * The merge key of the Kubernetes lists a strategic merge patch merges item by item (the
 * `patchMergeKey` of their Go types); every other list is replaced whole by the patch's.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
  ports: 'containerPort',
};

const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A strategic merge patch of the subset the fleet's overlays use: maps merge key by key, `null`
 * removes a key, the lists above merge by their key (a Service's `ports` by `port`), other lists
 * are replaced. `$patch` directives inside the object are refused (only the whole-object
 * `$patch: delete` is supported, by the caller).
 */
export function strategicMerge(target: JsonObject, patch: JsonObject, kind = ''): JsonObject {
  const out: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$'))
      throw new Error(`the built-in renderer does not support "${key}" inside a patch`);
    const current = out[key];
    if (value === null) delete out[key];
    else if (isObject(value) && isObject(current)) out[key] = strategicMerge(current, value, kind);
    else if (Array.isArray(value) && Array.isArray(current)) out[key] = mergeList(key, current, value, kind);
    else out[key] = value;
  }
  return out;
}

function mergeList(key: string, current: Json[], patch: Json[], kind: string): Json[] {
  const mergeKey = key === 'ports' && kind === 'Service' ? 'port' : MERGE_KEYS[key];
  if (!mergeKey || !current.every(isObject) || !patch.every(isObject)) return patch;
  const merged = current.map((item) => {
    const update = patch.find((p) => p[mergeKey] === item[mergeKey]);
    return update ? strategicMerge(item, update, kind) : item;
  });
  for (const p of patch) {
    if (!current.some((item) => item[mergeKey] === p[mergeKey])) merged.push(p);
  }
  return merged;
}
